#!/usr/bin/env python3
"""bf16 rounding inside Winograd F(m x m, 5 x 5) for m = 2, 3, 4: relative error in norm of
A^T [sum_c bf16(G g G^T) .* bf16(B^T d B)] A against the exact correlation, float64 elsewhere,
ci = 128, d ~ U(-1, 1), g ~ U(-0.2, 0.2) (the shapes of tests/test_bf16.c), beside direct
convolution on bf16 operands. Toom-Cook matrices from the points given (plus infinity), B^T
solved from the correlation identity, rows of B^T scaled to max |entry| 1 as winograd.c does.
Run: /usr/bin/python3 bench/wino_bf16_error.py (numpy; bench/README.md, "bf16")."""
import numpy as np

rng=np.random.default_rng(1)
def bf16(x):
    x=np.asarray(x,dtype=np.float32); b=x.view(np.uint32).astype(np.uint64)
    r=((b + 0x7FFF + ((b>>16)&1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)
def mats(m, r, pts):
    n=m+r-1; assert len(pts)==n-1
    AT=np.zeros((m,n)); G=np.zeros((n,r))
    for k,p in enumerate(pts):
        for i in range(m): AT[i,k]=p**i
        N=np.prod([p-q for q in pts if q!=p])
        for j in range(r): G[k,j]=p**j/N
    AT[m-1,n-1]=1; G[n-1,r-1]=1
    # solve B^T
    rows=[];rhs=[]
    for i in range(m):
        for j in range(r):
            for l in range(n):
                row=np.zeros((n,n))
                for k in range(n): row[k,l]=AT[i,k]*G[k,j]
                rows.append(row.ravel()); rhs.append(1.0 if l==i+j else 0.0)
    BT=np.linalg.lstsq(np.array(rows),np.array(rhs),rcond=None)[0].reshape(n,n)
    res=np.abs(np.array(rows)@BT.ravel()-np.array(rhs)).max()
    # scale rows of BT to max 1, G inversely
    s=np.abs(BT).max(axis=1); BT=BT/s[:,None]; G=G*s[:,None]
    return AT,G,BT,res
def run(m,pts,ci=128,co=8,tiles=40,cast=True):
    r=5; AT,G,BT,res=mats(m,r,pts); n=m+r-1
    d=rng.uniform(-1,1,(tiles,ci,n,n)); g=rng.uniform(-0.2,0.2,(co,ci,r,r))
    # exact direct
    y=np.zeros((tiles,co,m,m))
    for i in range(m):
        for j in range(m):
            y[:,:,i,j]=np.einsum('tcab,ocab->to',d[:,:,i:i+r,j:j+r],g)
    V=np.einsum('ik,tckl,jl->tcij',BT,d,BT); U=np.einsum('ik,ockl,jl->ocij',G,g,G)
    if cast: V=bf16(V); U=bf16(U)
    M=np.einsum('tcij,ocij->toij',V,U)
    Y=np.einsum('ui,toij,wj->touw',AT,M,AT)
    return np.linalg.norm(Y-y)/np.linalg.norm(y), res

for name,m,pts in [("F2 0,+-1,+-2",2,[0,1,-1,2,-2]),
                   ("F3 0,+-1,+-2,1/2",3,[0,1,-1,2,-2,0.5]),
                   ("F3 0,+-1,+-1/2,2",3,[0,1,-1,0.5,-0.5,2]),
                   ("F3 0,+-1,+-1/2,-2",3,[0,1,-1,0.5,-0.5,-2]),
                   ("F4 0,+-1,+-2,+-1/2",4,[0,1,-1,2,-2,0.5,-0.5])]:
    e,res=run(m,pts); e0,_=run(m,pts,cast=False)
    print(f"{name}: bf16 rel err {e:.2e} (no rounding {e0:.1e}, BT fit {res:.1e})")
# direct bf16 reference
d=rng.uniform(-1,1,(40,128,9,9)); g=rng.uniform(-0.2,0.2,(8,128,5,5))
y=np.einsum('tcab,ocab->to',d[:,:,0:5,0:5],g); yb=np.einsum('tcab,ocab->to',bf16(d[:,:,0:5,0:5]),bf16(g))
print("direct bf16", np.linalg.norm(yb-y)/np.linalg.norm(y))
