/* test_checkpoint.c - WAL checkpoints on their own thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/checkpoint.h"
#include "axon/config.h"
#include "axon/db.h"
#include "axon/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64], path[128];

static struct db *open_db(int flags)
{
    struct ax_err err;
    ax_err_clear(&err);
    struct db *d = db_open(path, flags, &err);
    if (!d)
        fail_msg("db_open: %s", err.detail);
    return d;
}

/* `rows` rows of 4000 bytes in one transaction. */
static void write_rows(struct db *d, int rows)
{
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(db_begin(d, &err), 0);
    sqlite3_stmt *st = db_prep(d, "INSERT INTO t(b) VALUES(randomblob(4000))", &err);
    assert_non_null(st);
    for (int i = 0; i < rows; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    assert_int_equal(db_commit(d, &err), 0);
}

static long long wal_bytes(void)
{
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat sb;
    return stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The writer's commits never checkpoint; the thread does once the WAL
 * holds CKPT_PAGES new pages, and the WAL then starts over instead of
 * growing. */
static void test_thread_checkpoints(void **state)
{
    (void)state;
    struct ax_err err;
    ax_err_clear(&err);
    struct db *w = open_db(DB_CREATE);
    assert_int_equal(db_exec(w, "CREATE TABLE t(b BLOB)", &err), 0);
    assert_int_equal(ckpt_start(w, path, &err), 0);
    assert_int_equal(ckpt_start(w, path, &err), 1);   /* one per process */
    long long runs, pages, frames;
    /* Below the threshold: nothing copied. */
    write_rows(w, 1000);
    usleep(100 * 1000);
    ckpt_stats(&runs, &pages, &frames);
    assert_int_equal(runs, 0);
    assert_true(frames >= 1000 && frames < CKPT_PAGES);
    /* Past it: the thread copies the WAL back. */
    write_rows(w, CKPT_PAGES);
    for (int i = 0; i < 100 && runs == 0; i++) {
        usleep(50 * 1000);
        ckpt_stats(&runs, &pages, &frames);
    }
    assert_true(runs >= 1);
    assert_true(pages >= CKPT_PAGES);
    /* The next commits reuse the WAL from its start. */
    long long size = wal_bytes();
    for (int i = 0; i < 4; i++)
        write_rows(w, 500);
    assert_true(wal_bytes() <= size);
    ckpt_stop();
    /* Everything is readable from a fresh connection. */
    struct db *r = open_db(0);
    int64_t n = 0;
    assert_int_equal(db_scalar_int(r, "SELECT count(*) FROM t", &n, &err, 0), 0);
    assert_int_equal(n, 1000 + CKPT_PAGES + 2000);
    db_close(r);
    db_close(w);
}

static int setup(void **state)
{
    (void)state;
    config_defaults(&axon_config);
    db_set_conn_hook(search_register);   /* the schema's FTS5 tokenizer */
    snprintf(dir, sizeof dir, "/tmp/axon-ckpt-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_checkpoints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
