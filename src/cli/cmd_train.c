/* lapgan train: the main job. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist/dist.h"
#include "lapgan/gan.h"

static volatile int lg_stop;

static void on_signal(int sig) {
    lg_stop = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan train [options]\n"
            "Trains a Laplacian pyramid of GANs and writes checkpoints, logs and samples.\n\n"
            "  --data SPEC          data set (default fashion): fashion[:DIR], cifar10:DIR,\n"
            "                       stl10:DIR, idx:IMAGES[,LABELS], npy:X.npy[,Y.npy],\n"
            "                       npz:F.npz, zip:F.zip, folder:DIR, lsun:DIR[,DIR]\n"
            "                       (docs/data.md)\n"
            "  --preset NAME        model (default fashion): %s\n"
            "  --model FILE         model description JSON instead of a preset (see --print-json)\n"
            "  --class-conditional  CC-LAPGAN: condition every level on the class label\n"
            "  --dcgan              the DCGAN recipe: Adam 2e-4/0.5, batch norm, LeakyReLU in D\n"
            "  --adam               Adam lr 2e-4, beta1 0.5 instead of the paper's SGD (nets unchanged)\n"
            "  --flip               mirror each training image left-right with probability 1/2\n"
            "                       (stored in the model: a resume keeps it)\n"
            "  --authors-init       the authors' CIFAR-10 initialisation: weights N(0, 0.05^2) in G,\n"
            "                       N(0, 0.005^2) in D, biases 0 (keeps the paper's SGD from\n"
            "                       collapsing the fully connected level; docs/presets.md)\n"
            "  --momentum-style S   SGD momentum: torch7 (the authors' optim.sgd, dampening =\n"
            "                       momentum; the presets') or pytorch (torch.optim.SGD, none)\n"
            "  --filter F           pyramid filter: binomial (paper) or area-bilinear (authors' code)\n"
            "  --levels LIST        levels to train, e.g. 0,1 (default all; 0 is the finest)\n"
            "  --steps N            steps per level (default 1000)\n"
            "  --epochs E           or: epochs per level (passes of the batch's real half)\n"
            "  --batch B            minibatch, half real and half generated (default preset's)\n"
            "  --seed S             random seed (default 1)\n"
            "  --threads T          threads (default all cores)\n"
            "  --out DIR            run directory (default runs/<preset>)\n"
            "  --resume             continue the run in DIR: its model, data and seed unless given\n"
            "                       (they must match it); steps, cadences and threads may change\n"
            "  --force              replace the run in DIR (removes lapgan's files of it, says which)\n"
            "  --val N              hold the last N training images out for validation (default\n"
            "                       5000, or 10%% of the set where smaller; 0: none)\n"
            "  --val-every N        steps between validation checks, each keeping the best\n"
            "                       weights in DIR/best/ (0: none; default: every epoch)\n"
            "  --val-every-epochs E or: epochs between them (default 1)\n"
            "  --val-images N       validation images scored per check (default 100)\n"
            "  --val-samples S      draws per validation image (default 32)\n"
            "  --ckpt-every N       steps between checkpoints (default 500)\n"
            "  --sample-every N     steps between sample grids (default 500)\n"
            "  --log-every N        steps between log lines (default 50)\n"
            "  --backend B          cpu (default) or ref (slow reference loops)\n"
            "  --precision P        fp32 (default) or bf16: convolutions multiply bf16, sum in\n"
            "                       fp32; weights, optimiser and checkpoints stay fp32 (needs\n"
            "                       AVX512-BF16 or AMX; resume with the same P for identical bits)\n"
            "  --print-model        print the model description and exit\n"
            "  --print-json         print it as JSON (a starting point for --model) and exit\n"
            "  --quiet              no progress lines\n",
            lg_preset_names());
}

typedef struct {
    int tty, nlevels, printed, quiet, stopped;
    double t0;
    char lines[LG_PYR_MAX_LEVELS][200];
} lg_progress_view;

static void show_line(void *ud, int level, const char *line);

/* One line per level stopped on NaN/Inf, whatever --quiet says. */
static void on_level_stopped(void *ud, int level, int64_t step, const char *msg) {
    lg_progress_view *v = ud;
    (void)level, (void)step;
    char line[1000];
    snprintf(line, sizeof line, "lapgan train: %s", msg);
    lg_dist_post(-1, line);
    v->stopped++;
}

static void fmt_eta(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(b, n, "--:--");
        return;
    }
    long t = (long)s;
    if (t >= 3600) snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, n, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *ud, const lg_progress *p) {
    lg_progress_view *v = ud;
    if (v->quiet) return;
    char eta[32], line[200];
    fmt_eta(eta, sizeof eta, p->eta_s);
    snprintf(line, sizeof line,
             "level %d  step %6lld/%-6lld %3d%%  %6.0f img/s  ETA %s  epoch %5.2f  D %.3f  "
             "G %.3f  D acc real %.2f fake %.2f",
             p->level, (long long)p->step, (long long)p->total,
             (int)(100 * p->step / (p->total ? p->total : 1)), p->img_per_s, eta, p->epoch,
             p->stats.d_loss, p->stats.g_loss, p->stats.d_real_acc, p->stats.d_fake_acc);
    lg_dist_post(p->level, line); /* to show_line on rank 0, from any rank */
}

/* Rank 0 prints every rank's lines: level < 0 for a message. */
static void show_line(void *ud, int level, const char *line) {
    lg_progress_view *v = ud;
    if (!v->tty || level < 0) {
        fprintf(stderr, "%s\n", line);
        v->printed = 0; /* a live block restarts below this line */
        return;
    }
    /* A live block: one line per level, redrawn in place. */
    snprintf(v->lines[level], sizeof v->lines[0], "%s", line);
    if (v->printed) fprintf(stderr, "\033[%dA", v->printed);
    v->printed = 0;
    for (int k = v->nlevels - 1; k >= 0; k--)
        if (v->lines[k][0]) {
            fprintf(stderr, "\r\033[K%s\n", v->lines[k]);
            v->printed++;
        }
    fflush(stderr);
}

static int parse_levels(const char *s, long *mask) {
    *mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long k;
        if (lg_cli_int("train", "--levels", tok, 0, LG_PYR_MAX_LEVELS - 1, &k)) return LG_EXIT_USAGE;
        *mask |= 1L << k;
    }
    if (!*mask) return lg_cli_usage_error("train", "--levels needs a list like 0,1,2");
    return LG_EXIT_OK;
}

int lg_cli_parse_train(int argc, char **argv, lg_train_opts *o) {
    *o = (lg_train_opts){.data = "fashion", .preset = "fashion", .steps = 1000, .seed = 1,
                         .ckpt_every = 500, .sample_every = 500, .log_every = 50,
                         .val_every_epochs = 1, .val_images = 100, .val_samples = 32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        int r = LG_EXIT_OK, used = 1;
        if (lg_cli_is_help(a)) return LG_CLI_HELP;
        else if (!strcmp(a, "--data") && v) o->data = v, o->data_set = 1;
        else if (!strcmp(a, "--preset") && v) o->preset = v, o->preset_set = 1;
        else if (!strcmp(a, "--model") && v) o->model = v;
        else if (!strcmp(a, "--out") && v) o->out = v;
        else if (!strcmp(a, "--filter") && v) o->filter = v;
        else if (!strcmp(a, "--momentum-style") && v) o->momentum_style = v;
        else if (!strcmp(a, "--levels") && v) r = parse_levels(v, &o->levels_mask);
        else if (!strcmp(a, "--steps")) r = lg_cli_int("train", a, v, 1, 1L << 40, &o->steps);
        else if (!strcmp(a, "--epochs")) r = lg_cli_float("train", a, v, 1e-6, 1e6, &o->epochs);
        else if (!strcmp(a, "--batch")) r = lg_cli_int("train", a, v, 2, 65536, &o->batch);
        else if (!strcmp(a, "--threads")) r = lg_cli_int("train", a, v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--ckpt-every")) r = lg_cli_int("train", a, v, 0, 1L << 40, &o->ckpt_every);
        else if (!strcmp(a, "--sample-every")) r = lg_cli_int("train", a, v, 0, 1L << 40, &o->sample_every);
        else if (!strcmp(a, "--log-every")) r = lg_cli_int("train", a, v, 1, 1L << 40, &o->log_every);
        else if (!strcmp(a, "--val")) r = lg_cli_int("train", a, v, 0, 1L << 30, &o->val), o->val_set = 1;
        else if (!strcmp(a, "--val-every"))
            r = lg_cli_int("train", a, v, 0, 1L << 40, &o->val_every), o->val_every_set |= 1;
        else if (!strcmp(a, "--val-every-epochs"))
            r = lg_cli_float("train", a, v, 1e-6, 1e6, &o->val_every_epochs), o->val_every_set |= 2;
        else if (!strcmp(a, "--val-images")) r = lg_cli_int("train", a, v, 1, 1L << 20, &o->val_images);
        else if (!strcmp(a, "--val-samples")) r = lg_cli_int("train", a, v, 2, 100000, &o->val_samples);
        else if (!strcmp(a, "--seed")) {
            if (!(r = lg_cli_int("train", a, v, 0, 0x7fffffffffffffffL, &x))) o->seed = (unsigned long long)x;
            o->seed_set = 1;
        } else if (!strcmp(a, "--backend") && v) {
            if (!strcmp(v, "cpu")) o->backend = LG_BACKEND_CPU;
            else if (!strcmp(v, "ref")) o->backend = LG_BACKEND_REF;
            else r = lg_cli_usage_error("train", "--backend wants cpu or ref, got '%s'", v);
        } else if (!strcmp(a, "--precision")) {
            r = lg_cli_precision("train", a, v, &o->bf16);
        } else {
            used = 0;
            if (!strcmp(a, "--class-conditional")) o->cc = 1;
            else if (!strcmp(a, "--dcgan")) o->dcgan = 1;
            else if (!strcmp(a, "--adam")) o->adam = 1;
            else if (!strcmp(a, "--authors-init")) o->authors_init = 1;
            else if (!strcmp(a, "--flip")) o->flip = 1;
            else if (!strcmp(a, "--resume")) o->resume = 1;
            else if (!strcmp(a, "--force")) o->force = 1;
            else if (!strcmp(a, "--print-model")) o->print_model = 1;
            else if (!strcmp(a, "--print-json")) o->print_json = 1;
            else if (!strcmp(a, "--quiet")) o->quiet = 1;
            else if (!v && strstr(" --data --preset --model --out --filter --levels --backend "
                                  "--momentum-style ", a))
                r = lg_cli_usage_error("train", "%s needs a value", a);
            else r = lg_cli_usage_error("train", "unknown option '%s'", a);
        }
        if (r) return r;
        i += used;
    }
    if (o->val_every_set == 3)
        return lg_cli_usage_error("train", "give --val-every or --val-every-epochs, not both");
    if (o->authors_init && o->dcgan)
        return lg_cli_usage_error("train", "--dcgan has its own initialisation (N(0, 0.02^2)); "
                                  "give --dcgan or --authors-init, not both");
    if (o->resume && o->force)
        return lg_cli_usage_error("train", "--resume continues the run in --out, --force replaces "
                                  "it: give one");
    return LG_EXIT_OK;
}

/* The preset, or the user's JSON description; resuming with neither, the
 * run's own model. */
static lg_status base_desc(const lg_train_opts *o, lg_model_desc *m) {
    if (!o->model && !o->preset_set && o->stored) {
        *m = *o->stored;
        return LG_OK;
    }
    return o->model ? lg_model_desc_load(m, o->model) : lg_preset(o->preset, m);
}

static lg_status build_desc(const lg_train_opts *o, const lg_dataset *ds, lg_model_desc *m) {
    lg_status st = base_desc(o, m);
    if (st != LG_OK) return st;
    if (o->filter && (st = lg_pyr_filter_parse(o->filter, &m->filter)) != LG_OK) return st;
    if (o->adam) lg_model_desc_adam(m);
    if (o->momentum_style && (st = lg_sgd_style_parse(o->momentum_style, &m->opt.sgd_style)) != LG_OK)
        return lg_error(LG_ERR_ARG, "--momentum-style: %s", lg_errmsg());
    if (o->dcgan) lg_model_desc_dcgan(m);
    if (o->authors_init) lg_model_desc_authors_init(m);
    if (o->flip) m->flip = 1;
    if (o->batch) m->batch = (int)o->batch;
    if (o->cc) {
        if (!ds || ds->nclasses < 2)
            return lg_error(LG_ERR_ARG, "--class-conditional needs a labelled data set; %s has "
                            "no classes", ds ? ds->source : "the data");
        lg_model_desc_class_conditional(m, ds->nclasses);
    }
    return lg_model_desc_validate(m);
}

/* Several processes: which ranks train which levels, for the first lines
 * and for naming a failing rank's levels. */
static void describe_plan(const lg_model_desc *m, unsigned mask, int batch, char *plan, size_t n,
                          char *mine, size_t mn) {
    int first[LG_PYR_MAX_LEVELS], count[LG_PYR_MAX_LEVELS];
    size_t len = 0, ml = 0;
    plan[0] = mine[0] = 0;
    if (lg_train_plan(m, mask, lg_dist_size(), batch, first, count) != LG_OK) return;
    const int me = lg_dist_rank();
    for (int k = 0; k < m->levels; k++) {
        if (!count[k]) continue;
        const int a = first[k], b = first[k] + count[k] - 1;
        if (len < n && a == b)
            len += (size_t)snprintf(plan + len, n - len, "%slevel %d on rank %d", len ? ", " : "", k, a);
        else if (len < n)
            len += (size_t)snprintf(plan + len, n - len, "%slevel %d on ranks %d-%d", len ? ", " : "",
                                    k, a, b);
        if (me >= a && me <= b && ml < mn)
            ml += (size_t)snprintf(mine + ml, mn - ml, "%s%d", ml ? "," : "", k);
    }
}

/* Every rank runs this; under mpirun a failure on one rank ends the job
 * (the others may be waiting for it in a sum), after one line naming it. */
static int job_fail(const char *mine, lg_status st) {
    if (lg_dist_size() == 1) return lg_cli_fail("train", st);
    fprintf(stderr, "lapgan train: rank %d (level %s): %s\n", lg_dist_rank(), mine[0] ? mine : "-",
            lg_errmsg());
    lg_dist_abort(st == LG_ERR_ARG ? LG_EXIT_USAGE : LG_EXIT_FAIL);
}

static int train_job(const lg_train_opts *po);

static void on_notice(void *ud, const char *msg) {
    (void)ud;
    char line[1200];
    snprintf(line, sizeof line, "lapgan train: %s", msg);
    lg_dist_post(-1, line);
}

/* --out, or runs/<model>[-cc] from the preset or --model given. */
static lg_status out_dir(const lg_train_opts *o, char *out, size_t n) {
    lg_model_desc m;
    if (o->out) {
        snprintf(out, n, "%s", o->out);
        return LG_OK;
    }
    lg_status st = base_desc(o, &m);
    if (st != LG_OK) return st;
    snprintf(out, n, "runs/%s%s", m.name, o->cc || m.nclasses ? "-cc" : "");
    return LG_OK;
}

/* --resume: what --data, --seed and the model default to is the run's. */
static lg_status resume_defaults(lg_train_opts *o, lg_run_info *run, const char *out) {
    lg_status st = lg_run_info_read(run, out);
    if (st != LG_OK) return st;
    if (!o->data_set && run->data[0]) o->data = run->data;
    if (!o->seed_set) o->seed = run->seed;
    o->stored = &run->model;
    return LG_OK;
}

/* The held-out validation split: --val N, else the default for the set's
 * size; *val stays NULL when none is held out. */
static lg_status split_val(const lg_train_opts *o, lg_dataset *ds, lg_dataset **val) {
    const long n = o->val_set ? o->val : lg_dataset_default_val(ds->n);
    *val = NULL;
    if (n == 0) return LG_OK;
    if (n >= ds->n)
        return lg_error(LG_ERR_ARG, "--val %ld: %s has only %d images (leave some to train on, "
                        "or --val 0 for no validation split)", n, ds->source, ds->n);
    return lg_dataset_split_tail(ds, (int)n, val);
}

/* Steps between validation checks: --val-every, or --val-every-epochs. */
static int64_t val_cadence(const lg_train_opts *o, const lg_dataset *ds, int batch) {
    if (o->val_every_set & 1) return o->val_every;
    int64_t every = (int64_t)llround(o->val_every_epochs *
                                     (double)lg_train_steps_per_epoch(ds->n, batch));
    return every >= 1 ? every : 1;
}

static void on_validated(void *ud, int level, int64_t step, const lg_level_val *v, int best) {
    lg_progress_view *pv = ud;
    if (pv->quiet) return;
    char line[300];
    snprintf(line, sizeof line, "level %d  step %lld  validation: Parzen %.2f nats (sigma %.3g, "
             "%d images x %d draws), approxParzen %.3f, %.1f s%s", level, (long long)step,
             v->parzen, v->sigma, v->images, v->samples, v->min_dist, v->seconds,
             best ? "  best so far -> best/" : "");
    lg_dist_post(-1, line);
}

int lg_cmd_train(int argc, char **argv) {
    lg_train_opts o;
    int r = lg_cli_parse_train(argc, argv, &o);
    if (r == LG_CLI_HELP) {
        usage(stdout);
        return LG_EXIT_OK;
    }
    if (r) return r;
    lg_set_threads((int)o.threads);
    if (!o.print_model && !o.print_json) {
        lg_backend_kind be;
        if ((r = lg_cli_backend("train", o.backend, o.bf16, &be))) return r;
        o.backend = (int)be;
        lg_status st = lg_dist_init(NULL, NULL);
        if (st != LG_OK) return lg_cli_fail("train", st);
        r = lg_dist_finish(train_job(&o));
        lg_dist_finalize();
        return r;
    }
    lg_model_desc m;
    {
        /* --class-conditional takes its class count from the data set. */
        lg_dataset *ds = NULL;
        lg_status st = o.cc ? base_desc(&o, &m) : LG_OK;
        if (st == LG_OK && o.cc)
            st = lg_dataset_open(&ds, o.data, m.c, m.crop ? 0 : m.level[0].size);
        if (st == LG_OK) st = build_desc(&o, ds, &m);
        lg_dataset_free(ds);
        if (st != LG_OK) return lg_cli_fail("train", st);
        char *d = NULL;
        if (o.print_json && (st = lg_model_desc_to_json(&m, &d)) != LG_OK)
            return lg_cli_fail("train", st);
        if (!o.print_json) d = lg_model_desc_describe(&m);
        printf("%s", d ? d : "");
        free(d);
        return LG_EXIT_OK;
    }
}

static int train_job(const lg_train_opts *po) {
    lg_train_opts o = *po;
    const int root = lg_dist_rank() == 0;
    char mine[64] = "", plan[512] = "", out[4096];
    lg_run_info run;
    lg_status st = out_dir(&o, out, sizeof out);
    if (st == LG_OK && o.resume) st = resume_defaults(&o, &run, out);
    if (st != LG_OK) return job_fail(mine, st);
    lg_model_desc m;
    st = base_desc(&o, &m); /* fail fast on a bad model, before loading data */
    if (st == LG_OK && lg_dist_size() > 1) { /* and on more ranks than the levels can use */
        int first[LG_PYR_MAX_LEVELS], count[LG_PYR_MAX_LEVELS];
        st = lg_train_plan(&m, (unsigned)o.levels_mask, lg_dist_size(),
                           o.batch ? (int)o.batch : m.batch, first, count);
    }
    if (st != LG_OK) return job_fail(mine, st);
    lg_dataset *ds;
    double t0 = lg_time_s();
    st = lg_dataset_open(&ds, o.data, m.c, m.crop ? 0 : m.level[0].size);
    if (st != LG_OK) return job_fail(mine, st);
    lg_dataset *val = NULL;
    if ((st = build_desc(&o, ds, &m)) != LG_OK || (st = split_val(&o, ds, &val)) != LG_OK) {
        lg_dataset_free(ds);
        return job_fail(mine, st);
    }
    int batch = m.batch;
    int64_t steps = o.steps;
    if (o.epochs > 0) steps = (int64_t)ceil(o.epochs * (double)lg_train_steps_per_epoch(ds->n, batch));
    if (lg_dist_size() > 1)
        describe_plan(&m, (unsigned)o.levels_mask, batch, plan, sizeof plan, mine, sizeof mine);
    char *desc = lg_model_desc_describe(&m);
    if (!o.quiet && root && plan[0])
        fprintf(stderr, "%d processes (%s): %s\n", lg_dist_size(), lg_dist_kind(), plan);
    if (!o.quiet && root)
        fprintf(stderr, "%s: %d images %dx%dx%d loaded in %.2f s\n%s%s %lld steps per level, "
                "batch %d, seed %llu, %d threads -> %s\n", ds->source, ds->n, ds->c, ds->h, ds->w,
                lg_time_s() - t0, desc ? desc : "", o.resume ? "resuming," : "training",
                (long long)steps, batch, o.seed, lg_get_threads(), out);
    free(desc);
    const int64_t val_every = val ? val_cadence(&o, ds, batch) : 0;
    if (!o.quiet && root && val && val_every)
        fprintf(stderr, "validation: the last %d images held out (training on %d); best-model "
                "selection every %lld steps on %ld of them x %ld draws -> %s/best/\n", val->n,
                ds->n, (long long)val_every, o.val_images < val->n ? o.val_images : (long)val->n,
                o.val_samples, out);
    else if (!o.quiet && root && val)
        fprintf(stderr, "validation: the last %d images held out (training on %d); no best-model "
                "selection\n", val->n, ds->n);
    lg_progress_view view = {.tty = root && isatty(2), .nlevels = m.levels, .quiet = o.quiet};
    lg_dist_set_sink(show_line, &view);
    lg_train_cfg cfg = {.run_dir = out, .levels_mask = (unsigned)o.levels_mask, .steps = steps,
                        .batch = batch, .seed = o.seed, .ckpt_every = (int)o.ckpt_every,
                        .sample_every = (int)o.sample_every, .log_every = (int)o.log_every,
                        .resume = o.resume, .backend = (lg_backend_kind)o.backend,
                        .progress = on_progress, .progress_ud = &view, .stop = &lg_stop,
                        .level_stopped = on_level_stopped, .force = o.force, .data_spec = o.data,
                        .notice = on_notice, .val = val, .val_every = val_every,
                        .val_images = (int)o.val_images, .val_samples = (int)o.val_samples,
                        .validated = on_validated};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    st = lg_train(&m, ds, &cfg);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    lg_dataset_free(ds);
    lg_dataset_free(val);
    if (st == LG_ERR_INTERRUPTED) {
        if (root) fprintf(stderr, "lapgan train: %s\n", lg_errmsg());
        return 130;
    }
    /* Stopped levels: their lines went out (from the level's first rank). */
    if (st == LG_ERR_NUMERIC && (view.stopped || lg_dist_size() > 1)) return LG_EXIT_FAIL;
    if (st != LG_OK) return job_fail(mine, st);
    if (!o.quiet && root)
        fprintf(stderr, "done: checkpoints %s/level_*.safetensors, samples %s/samples/\n", out, out);
    return LG_EXIT_OK;
}
