/*
 * sqlite_insert.c - the reference for the POST benchmark: single-row insert
 * transactions into a plain SQLite table, one connection, one thread:
 *   BEGIN; INSERT INTO customers(...) VALUES(...); COMMIT;
 * with prepared statements, a row of about the size Axon stores for a
 * customer (a ~500-byte JSON document plus a few columns), in WAL mode with
 * the same durability as Axon: synchronous=NORMAL by default (Axon's
 * default), synchronous=FULL for `full` (Axon's --durability full).
 * The table has no secondary index and nothing else happens per row (no
 * audit row, no search index, no HTTP): it is the ceiling.
 *
 * usage: sqlite_insert DB_PATH SECONDS [normal|full]
 * Prints one line:
 *   BENCH rows=N seconds=S rps=R p50_us=A p99_us=B
 * (latencies are per transaction, BEGIN to COMMIT).
 */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_insert: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static const char *const words[] = {
    "amber", "birch", "cedar", "delta", "ember", "falcon", "granite", "harbor",
    "indigo", "juniper", "kestrel", "lumen", "meadow", "nimbus", "orchid", "pioneer",
};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB_PATH SECONDS [normal|full]\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[2]);
    const char *sync = argc > 3 && strcmp(argv[3], "full") == 0 ? "FULL" : "NORMAL";
    unlink(argv[1]);
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die(db, "open");
    char pragmas[200];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync);
    exec(db, pragmas);
    exec(db, "CREATE TABLE customers(rid INTEGER PRIMARY KEY, id TEXT NOT NULL, "
             "name TEXT NOT NULL, email TEXT, sector TEXT, country TEXT, "
             "created_at TEXT NOT NULL, doc TEXT NOT NULL)");
    sqlite3_stmt *b, *ins, *c;
    if (sqlite3_prepare_v2(db, "BEGIN", -1, &b, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO customers(id,name,email,sector,country,created_at,doc) "
                               "VALUES(?,?,?,?,?,?,?)", -1, &ins, NULL) ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &c, NULL))
        die(db, "prepare");

    size_t cap = 1 << 20, n = 0;
    uint32_t *lat = malloc(cap * sizeof *lat);
    if (!lat)
        return 1;
    srand(42);
    double start = now_s(), end = start + seconds;
    char id[40], name[64], email[96], doc[1024];
    for (;;) {
        double t0 = now_s();
        if (t0 >= end)
            break;
        const char *w1 = words[rand() % 16], *w2 = words[rand() % 16];
        snprintf(id, sizeof id, "cus_%020llx", (unsigned long long)n * 2654435761ULL);
        snprintf(name, sizeof name, "%s %s %zu Ltd", w1, w2, n);
        snprintf(email, sizeof email, "contact%zu@%s-%s.example.com", n, w1, w2);
        int dl = snprintf(doc, sizeof doc,
            "{\"id\":\"%s\",\"object\":\"customer\",\"name\":\"%s\",\"kind\":\"company\","
            "\"email\":\"%s\",\"phone\":\"+1-555-%04zu\",\"website\":null,\"sector\":\"technology\","
            "\"tier\":\"B\",\"region\":\"West\",\"country\":\"United States\",\"city\":\"Denver\","
            "\"address\":null,\"revenue\":12.5,\"employees\":120,\"year_established\":1999,"
            "\"parent_id\":null,\"owner_id\":null,\"unit_id\":null,\"external_id\":null,"
            "\"attrs\":{},\"created_at\":\"2026-01-01T00:00:00.000Z\","
            "\"updated_at\":\"2026-01-01T00:00:00.000Z\",\"created_by\":\"key_aaaaaaaaaaaaaaaaaaaa\","
            "\"version\":1}", id, name, email, n % 10000);
        if (sqlite3_step(b) != SQLITE_DONE)
            die(db, "BEGIN");
        sqlite3_reset(b);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, email, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, "technology", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, "United States", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, "2026-01-01T00:00:00.000Z", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, doc, dl, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die(db, "INSERT");
        sqlite3_reset(ins);
        if (sqlite3_step(c) != SQLITE_DONE)
            die(db, "COMMIT");
        sqlite3_reset(c);
        double t1 = now_s();
        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof *lat);
            if (!lat)
                return 1;
        }
        lat[n++] = (uint32_t)((t1 - t0) * 1e6);
    }
    double took = now_s() - start;
    sqlite3_finalize(b);
    sqlite3_finalize(ins);
    sqlite3_finalize(c);
    sqlite3_close(db);
    qsort(lat, n, sizeof *lat, cmp_u32);
    printf("BENCH rows=%zu seconds=%.3f rps=%.1f p50_us=%u p99_us=%u\n", n, took,
           (double)n / took, n ? lat[n / 2] : 0, n ? lat[(size_t)((double)n * 0.99)] : 0);
    free(lat);
    return 0;
}
