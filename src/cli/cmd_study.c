/* lapgan study report: what the participants of `lapgan serve` judged. */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "study/study.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan study report --db FILE [--csv] [--html FILE]\n"
            "Per source (real images and each model), the fraction of images judged real with\n"
            "a Wilson score 95%% interval, a two-sided two-proportion z test against the real\n"
            "images, the number of judgements and the median response time; then the same per\n"
            "exposure (when several were used) and per class.\n\n"
            "  --db FILE    the study database written by 'lapgan serve'\n"
            "  --csv        one CSV table instead of text, for plotting\n"
            "  --html FILE  also add the tables to an HTML report: replaces an earlier study\n"
            "               section or goes before </body>; a new page when FILE is absent\n");
}

static const char *class_name(const lg_study_report *r, int cls, char *buf, size_t n) {
    if (cls >= 0 && cls < r->nclass_names) return r->class_names[cls];
    snprintf(buf, n, "%d", cls);
    return buf;
}

static void print_csv(const lg_study_report *r) {
    printf("group,source,class,exposure_ms,n,judged_real,fraction,ci_low,ci_high,p_vs_real,"
           "rt_median_ms\n");
    for (int i = 0; i < r->nrows; i++) {
        const lg_study_row *o = &r->rows[i];
        char cb[16], eb[16], pb[32];
        const char *grp = o->cls != -2 ? "class" : o->exposure_ms != -2 ? "exposure" : "source";
        snprintf(eb, sizeof eb, "%d", o->exposure_ms);
        snprintf(pb, sizeof pb, "%.6g", o->p_vs_real);
        printf("%s,%s,%s,%s,%lld,%lld,%.6f,%.6f,%.6f,%s,%.1f\n", grp, o->source,
               o->cls != -2 ? class_name(r, o->cls, cb, sizeof cb) : "",
               o->exposure_ms != -2 ? eb : "", (long long)o->n, (long long)o->judged_real,
               o->frac, o->lo, o->hi, isnan(o->p_vs_real) ? "" : pb, o->rt_median_ms);
    }
}

static void print_table(const lg_study_report *r, int kind, const char *title) {
    int any = 0;
    for (int i = 0; i < r->nrows; i++) {
        const lg_study_row *o = &r->rows[i];
        if ((o->cls != -2 ? 1 : o->exposure_ms != -2 ? 2 : 0) != kind) continue;
        const int w = kind ? 12 : 0; /* the class or exposure column */
        if (!any++)
            printf("\n%s\n%-16s %-*s%s%7s  %11s  %-16s  %9s  %9s\n", title, "source", w,
                   kind == 1 ? "class" : kind == 2 ? "exposure" : "", kind ? " " : "", "n",
                   "judged real", "95% CI (Wilson)", "p vs real", "median RT");
        char what[48] = "", pb[24] = "-";
        if (kind == 1) snprintf(what, sizeof what, "%s", class_name(r, o->cls, pb, sizeof pb));
        if (kind == 2 && o->exposure_ms) snprintf(what, sizeof what, "%d ms", o->exposure_ms);
        if (kind == 2 && !o->exposure_ms) snprintf(what, sizeof what, "unlimited");
        snprintf(pb, sizeof pb, isnan(o->p_vs_real) ? "-" : "%.3g", o->p_vs_real);
        printf("%-16s %-*s%s%7lld  %11.3f  [%.3f, %.3f]    %9s  %6.0f ms\n", o->source, w,
               what, kind ? " " : "", (long long)o->n, o->frac, o->lo, o->hi, pb, o->rt_median_ms);
    }
}

static int report(int argc, char **argv) {
    const char *db = NULL, *html = NULL;
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (lg_cli_is_help(a)) {
            usage(stdout);
            return LG_EXIT_OK;
        } else if (!strcmp(a, "--csv")) {
            csv = 1;
            continue;
        } else if (!strcmp(a, "--db") && v) db = v;
        else if (!strcmp(a, "--html") && v) html = v;
        else return lg_cli_usage_error("study report", v || a[0] != '-' ? "unknown option '%s'"
                                                                         : "%s needs a value", a);
        i++;
    }
    if (!db) return lg_cli_usage_error("study report", "--db FILE is required");
    lg_study_report r;
    lg_status st = lg_study_report_build(db, &r);
    if (st != LG_OK) return lg_cli_fail("study report", st);
    if (html) st = lg_study_report_html_write(&r, html);
    if (st == LG_OK && csv) print_csv(&r);
    else if (st == LG_OK) {
        printf("%s: %d sessions, %lld judgements\n", db, r.nsessions, (long long)r.njudgements);
        print_table(&r, 0, "per source");
        print_table(&r, 2, "per exposure");
        print_table(&r, 1, "per class");
        if (html) printf("\nHTML: %s\n", html);
    }
    lg_study_report_free(&r);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail("study report", st);
}

int lg_cmd_study(int argc, char **argv) {
    if (argc < 2 || lg_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? LG_EXIT_USAGE : LG_EXIT_OK;
    }
    if (!strcmp(argv[1], "report")) return report(argc - 1, argv + 1);
    return lg_cli_usage_error("study", "unknown subcommand '%s' (report)", argv[1]);
}
