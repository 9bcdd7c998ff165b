/* lapgan classifier: trains the small evaluation convnet (its features feed
 * the Frechet distance, its predictions check class-conditional samples) and
 * measures a saved one on a labelled data set. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "classifier"


static void help(void) {
    printf("usage: lapgan classifier train --data SPEC --out FILE [options]\n"
           "       lapgan classifier eval --model FILE --data SPEC [options]\n\n"
           "train: fits a convnet (--arch) with Adam to a labelled data set, prints the mean\n"
           "loss of every epoch and the test accuracy, and writes FILE (safetensors,\n"
           "atomically).\n"
           "eval: prints a saved classifier's accuracy on a labelled data set.\n\n"
           "  --data SPEC      fashion[:DIR], fashion-test[:DIR], cifar10:DIR, cifar10-test:DIR,\n"
           "                   stl10:DIR, stl10-test:DIR, idx:IMAGES,LABELS, npy:X.npy,Y.npy,\n"
           "                   npz:F.npz, zip:F.zip, folder:DIR (subfolders are classes),\n"
           "                   lsun:DIR[,DIR] (one class per LMDB)\n"
           "  --test SPEC      train: test set for the final accuracy (default: the test\n"
           "                   split of --data for fashion, cifar10 and stl10; none otherwise)\n"
           "  --out FILE       train: where to write the classifier\n"
           "  --model FILE     eval: the classifier to measure\n"
           "  --arch A         convnet: conv5x5 32, conv5x5/2 64, conv3x3/2 64, linear 128\n"
           "                   (the default; fast, 62%% on CIFAR-10); vgg: seven conv3x3 with\n"
           "                   batch norm (64 to 256 maps), dropout, linear 128 (slower; use it\n"
           "                   for CIFAR-10 and STL-10, with --flip --shift 4)\n"
           "  --epochs E       passes over the data (default %d)\n"
           "  --batch B        minibatch size, 1..%d (default %d)\n"
           "  --lr LR          Adam learning rate (default 1e-3)\n"
           "  --lr-decay D     lr / (1 + D)^epoch (default 0: constant)\n"
           "  --flip           mirror each training image left-right with probability 1/2\n"
           "  --shift S        translate each training image by up to S pixels (default 0)\n"
           "  --seed S         initialisation and shuffling seed (default 1)\n"
           "  --threads T      threads (default all cores)\n"
           "  --channels C     train, folder data: 1 grey or 3 RGB (default 3)\n"
           "  --size S         train, folder data: image size (default 32)\n",
           lg_classifier_train_defaults().epochs, LG_CLASSIFIER_MAX_BATCH,
           lg_classifier_train_defaults().batch);
}

typedef struct {
    int train;
    const char *data, *test, *out, *model, *arch;
    long epochs, batch, seed, threads, channels, size, shift;
    double lr, lr_decay;
    int flip;
} opts;

static int parse(int argc, char **argv, opts *o) {
    lg_classifier_train_cfg d = lg_classifier_train_defaults();
    *o = (opts){.epochs = d.epochs, .batch = d.batch, .seed = 1, .channels = 3, .size = 32,
                .lr = d.lr, .lr_decay = d.lr_decay, .shift = d.shift, .flip = d.flip,
                .arch = "convnet"};
    if (argc < 2) return lg_cli_usage_error(CMD, "expected 'train' or 'eval'");
    if (lg_cli_is_help(argv[1])) return help(), -1;
    if (!strcmp(argv[1], "train"))
        o->train = 1;
    else if (strcmp(argv[1], "eval"))
        return lg_cli_usage_error(CMD, "unknown action '%s' (train or eval)", argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **str = !strcmp(a, "--data")    ? &o->data
                           : !strcmp(a, "--test")  ? &o->test
                           : !strcmp(a, "--out")   ? &o->out
                           : !strcmp(a, "--model") ? &o->model
                           : !strcmp(a, "--arch")  ? &o->arch
                                                   : NULL;
        int rc = LG_EXIT_OK;
        if (lg_cli_is_help(a)) return help(), -1;
        if (!strcmp(a, "--flip")) {
            o->flip = 1;
            continue;
        }
        if (str) {
            if (!v) return lg_cli_usage_error(CMD, "%s needs a value", a);
            *str = v;
        } else if (!strcmp(a, "--epochs")) {
            rc = lg_cli_int(CMD, a, v, 1, 100000, &o->epochs);
        } else if (!strcmp(a, "--batch")) {
            rc = lg_cli_int(CMD, a, v, 1, LG_CLASSIFIER_MAX_BATCH, &o->batch);
        } else if (!strcmp(a, "--seed")) {
            rc = lg_cli_int(CMD, a, v, 0, 0x7fffffffL, &o->seed);
        } else if (!strcmp(a, "--threads")) {
            rc = lg_cli_int(CMD, a, v, 1, 1024, &o->threads);
        } else if (!strcmp(a, "--channels")) {
            rc = lg_cli_int(CMD, a, v, 1, 3, &o->channels);
            if (rc == LG_EXIT_OK && o->channels == 2)
                return lg_cli_usage_error(CMD, "--channels wants 1 or 3");
        } else if (!strcmp(a, "--size")) {
            rc = lg_cli_int(CMD, a, v, 4, 4096, &o->size);
        } else if (!strcmp(a, "--lr")) {
            rc = lg_cli_float(CMD, a, v, 1e-8, 10, &o->lr);
        } else if (!strcmp(a, "--lr-decay")) {
            rc = lg_cli_float(CMD, a, v, 0, 100, &o->lr_decay);
        } else if (!strcmp(a, "--shift")) {
            rc = lg_cli_int(CMD, a, v, 0, 64, &o->shift);
        } else {
            return lg_cli_usage_error(CMD, "unknown option '%s'", a);
        }
        if (rc != LG_EXIT_OK) return rc;
        i++;
    }
    if (!o->data) return lg_cli_usage_error(CMD, "no data set (--data SPEC)");
    if (o->train && !o->out) return lg_cli_usage_error(CMD, "no output file (--out FILE)");
    if (!o->train && !o->model) return lg_cli_usage_error(CMD, "no classifier (--model FILE)");
    if (strcmp(o->arch, "convnet") && strcmp(o->arch, "vgg"))
        return lg_cli_usage_error(CMD, "--arch '%s': want convnet or vgg", o->arch);
    return LG_EXIT_OK;
}

static int print_epoch(void *user, int epoch, int epochs, double loss, double seconds) {
    printf("epoch %d/%d  loss %.4f  %.1f s\n", epoch, epochs, loss, seconds);
    fflush(stdout);
    return 0;
}

static int run_train(const opts *o) {
    lg_dataset *ds = NULL, *te = NULL;
    lg_classifier *clf = NULL;
    char tspec[512];
    const char *test = o->test;
    if (!test && lg_cli_test_spec(o->data, tspec, sizeof tspec)) test = tspec;
    int c = (int)o->channels, size = (int)o->size;
    lg_status st = lg_output_check(o->out); /* before the epochs, not after */
    if (st == LG_OK) st = lg_dataset_open(&ds, o->data, c, size);
    if (st == LG_OK && test) st = lg_dataset_open(&te, test, c, size);
    if (st == LG_OK && ds->nclasses < 2)
        st = lg_error(LG_ERR_ARG, "%s: needs labels of at least 2 classes", ds->source);
    if (st == LG_OK && o->batch > ds->n)
        st = lg_error(LG_ERR_ARG, "--batch %ld is more than the %d images", o->batch, ds->n);
    if (st == LG_OK)
        st = lg_classifier_new(&clf, o->arch, ds->c, ds->h, ds->w, ds->nclasses,
                               (uint64_t)o->seed);
    if (st != LG_OK) goto done;
    printf("classifier %s: %s (%d images %dx%dx%d, %d classes), %ld epochs, batch %ld, lr %g, "
           "lr decay %g, flip %s, shift %ld, seed %ld, %d threads\n",
           o->arch, ds->source, ds->n, ds->c, ds->h, ds->w, ds->nclasses, o->epochs, o->batch,
           o->lr, o->lr_decay, o->flip ? "on" : "off", o->shift, o->seed, lg_get_threads());
    lg_classifier_train_cfg cfg = {.epochs = (int)o->epochs, .batch = (int)o->batch,
                                   .lr = (float)o->lr, .lr_decay = (float)o->lr_decay,
                                   .flip = o->flip, .shift = (int)o->shift};
    double t0 = lg_time_s(), acc = -1;
    st = lg_classifier_train(clf, ds, &cfg, print_epoch, NULL);
    if (st != LG_OK) goto done;
    printf("trained in %.1f s\n", lg_time_s() - t0);
    if (te) {
        st = lg_classifier_accuracy(clf, te, &acc);
        if (st != LG_OK) goto done;
        printf("test accuracy %.4f (%s, %d images)\n", acc, te->source, te->n);
    }
    lg_classifier_set_info(clf, ds->source, acc);
    st = lg_classifier_save(clf, o->out);
    if (st == LG_OK) printf("wrote %s\n", o->out);
done:
    lg_classifier_free(clf);
    lg_dataset_free(ds);
    lg_dataset_free(te);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}

/* "per class: NAME 0.812 (n 1000), ..." : each true class's share predicted as itself. */
static void print_per_class(const lg_dataset *ds, const long *counts, int k) {
    printf("per class:");
    for (int i = 0; i < ds->nclasses && i < k; i++) {
        long n = 0;
        for (int j = 0; j < k; j++) n += counts[(size_t)i * k + j];
        const char *name = ds->class_names ? ds->class_names[i] : NULL;
        if (name) printf(" %s", name);
        else printf(" %d", i);
        if (n) printf(" %.3f (n %ld)%s", (double)counts[(size_t)i * k + i] / n, n, i + 1 < ds->nclasses ? "," : "");
        else printf(" - (n 0)%s", i + 1 < ds->nclasses ? "," : "");
    }
    printf("\n");
}

static int run_eval(const opts *o) {
    lg_dataset *ds = NULL;
    lg_classifier *clf = NULL;
    long *counts = NULL;
    lg_status st = lg_classifier_load(&clf, o->model);
    int c = 0, h = 0, k = 0;
    if (st == LG_OK) lg_classifier_shape(clf, &c, &h, NULL, &k);
    if (st == LG_OK) st = lg_dataset_open(&ds, o->data, c, h); /* folders: the model's shape */
    if (st == LG_OK && !(counts = calloc((size_t)k * k, sizeof *counts)))
        st = lg_error(LG_ERR_NOMEM, "out of memory");
    if (st == LG_OK) st = lg_classifier_confusion(clf, ds, counts);
    if (st == LG_OK) {
        long correct = 0;
        for (int i = 0; i < k; i++) correct += counts[(size_t)i * k + i];
        printf("accuracy %.4f (%s, %d images; classifier %s trained on %s)\n",
               (double)correct / ds->n, ds->source, ds->n, lg_classifier_arch(clf),
               lg_classifier_source(clf)[0] ? lg_classifier_source(clf) : "?");
        print_per_class(ds, counts, k);
    }
    free(counts);
    lg_classifier_free(clf);
    lg_dataset_free(ds);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}

int lg_cmd_classifier(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc < 0) return LG_EXIT_OK;
    if (rc != LG_EXIT_OK) return rc;
    lg_set_threads((int)o.threads);
    return o.train ? run_train(&o) : run_eval(&o);
}
