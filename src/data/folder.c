/* Folders of PNG/JPEG images. Labelled: each subfolder (sorted by name) is
 * a class; files are sorted by name. Each image goes through lg_image_fit
 * (shorter side to size: area shrink / aligned-corner bilinear enlarge,
 * centre crop, grey or RGB). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/check.h"
#include "data/dataset.h"
#include "lapgan/io.h"

#define FOLDER_MAX_SIZE 4096

typedef struct {
    char **v;
    int n, cap;
} str_list;

static void list_free(str_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static lg_status list_push(str_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        LG_CHECK(v && cap < 0x3fffffff, LG_ERR_NOMEM, "out of memory listing files");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    LG_CHECK(l->v[l->n], LG_ERR_NOMEM, "out of memory listing files");
    l->n++;
    return LG_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

/* Sorted entries of dir: image files into files, subdirectories into dirs
 * (either may be NULL). Hidden entries are skipped. */
static lg_status scan_dir(const char *dir, str_list *files, str_list *dirs) {
    DIR *d = opendir(dir);
    LG_CHECK(d, LG_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int f0 = files ? files->n : 0, d0 = dirs ? dirs->n : 0; /* sort only what we add */
    lg_status st = LG_OK;
    struct dirent *e;
    while (st == LG_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        int k = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (k < 0 || k >= (int)sizeof path) {
            st = lg_error(LG_ERR_ARG, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) continue; /* dangling link */
        if (S_ISDIR(sb.st_mode) && dirs) st = list_push(dirs, e->d_name);
        if (S_ISREG(sb.st_mode) && files && is_image_name(e->d_name)) st = list_push(files, path);
    }
    closedir(d);
    if (files && files->n > f0)
        qsort(files->v + f0, (size_t)(files->n - f0), sizeof(char *), cmp_str);
    if (dirs && dirs->n > d0) qsort(dirs->v + d0, (size_t)(dirs->n - d0), sizeof(char *), cmp_str);
    return st;
}

static lg_status load_one(lg_dataset *ds, int i, const char *path) {
    lg_image *im;
    LG_TRY(lg_image_load(&im, path));
    size_t isz = (size_t)ds->c * ds->h * ds->w;
    lg_status st = lg_image_fit(im, ds->c, ds->h, ds->pixels + (size_t)i * isz, path);
    lg_image_free(im);
    return st;
}

/* Collects image paths and labels (class index per file, -1 unlabelled). */
static lg_status collect(const char *dir, int labelled, str_list *files, int **labels,
                         str_list *classes) {
    str_list top = {0};
    LG_TRY(scan_dir(dir, &top, labelled ? classes : NULL));
    lg_status st = LG_OK;
    int *lab = NULL;
    if (labelled && classes->n > 0) {
        if (top.n > 0)
            st = lg_error(LG_ERR_FORMAT,
                          "%s: has both image files (%s) and class subfolders; move the images "
                          "into a subfolder",
                          dir, top.v[0]);
        for (int k = 0; st == LG_OK && k < classes->n; k++) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", dir, classes->v[k]);
            int before = files->n;
            st = scan_dir(sub, files, NULL);
            if (st != LG_OK) break;
            /* Checked before any image is decoded: an empty class would be
             * a class-conditional model's class that never trains. */
            if (files->n == before) {
                st = lg_error(LG_ERR_FORMAT, "%s: class folder without images (*.png, *.jpg, "
                              "*.jpeg); every class needs some: add images or remove the folder",
                              sub);
                break;
            }
            int *l2 = realloc(lab, (size_t)(files->n > 0 ? files->n : 1) * sizeof(int));
            if (!l2) {
                st = lg_error(LG_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            lab = l2;
            for (int j = before; j < files->n; j++) lab[j] = k;
        }
    } else {
        list_free(files);
        *files = top;
        top = (str_list){0};
        if (labelled) list_free(classes);
    }
    list_free(&top);
    *labels = lab;
    return st;
}

lg_status lg_dataset_load_folder(lg_dataset **out, const char *dir, int c, int size,
                                 int labelled) {
    LG_CHECK(out && dir, LG_ERR_ARG, "lg_dataset_load_folder: NULL argument");
    *out = NULL;
    LG_CHECK(c == 1 || c == 3, LG_ERR_ARG, "%s: channels must be 1 or 3, got %d", dir, c);
    LG_CHECK(size > 0 && size <= FOLDER_MAX_SIZE, LG_ERR_ARG, "%s: image size %d not in [1, %d]",
             dir, size, FOLDER_MAX_SIZE);
    str_list files = {0}, classes = {0};
    int *lab = NULL;
    lg_dataset *ds = NULL;
    lg_status st = collect(dir, labelled, &files, &lab, &classes);
    if (st == LG_OK && files.n == 0)
        st = lg_error(LG_ERR_FORMAT, "%s: no images (*.png, *.jpg, *.jpeg) in directory%s", dir,
                      labelled ? " or its subfolders" : "");
    char source[300];
    snprintf(source, sizeof source, "folder:%s", dir);
    if (st == LG_OK) st = lg_ds_alloc(&ds, files.n, c, size, size, source);
    for (int i = 0; st == LG_OK && i < files.n; i++) {
        st = load_one(ds, i, files.v[i]);
        ds->labels[i] = lab ? lab[i] : -1;
    }
    if (st == LG_OK && classes.n > 0)
        st = lg_ds_set_classes(ds, classes.n, (const char *const *)classes.v);
    list_free(&files);
    list_free(&classes);
    free(lab);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
