/* test_csvio.c - the streaming CSV reader (quoting, line ends, BOM,
 * encodings, hostile input) and the writer (quoting, formula neutralising). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/csvio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *write_temp(const char *bytes, size_t n)
{
    char *path = strdup("/tmp/axon-csvio-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Up to 8 records of the file: fields joined by '|', or "!error" text. */
struct records {
    int n;
    long long row[8];
    char text[8][256];
    bool bom;
    char encoding[CSVIO_ENCODING_MAX];
};

static void read_all(const char *bytes, size_t len, const struct csvio_opts *o,
                     struct records *out)
{
    char *path = write_temp(bytes, len);
    struct ax_err err;
    ax_err_clear(&err);
    struct csvio_reader *r = csvio_open(path, o, &err);
    assert_non_null(r);
    memset(out, 0, sizeof *out);
    struct csvio_row row;
    int rc;
    while ((rc = csvio_next(r, &row, &err)) == 1 && out->n < 8) {
        char *t = out->text[out->n];
        out->row[out->n] = row.row;
        if (row.error) {
            snprintf(t, 256, "!%s", row.error);
        } else {
            size_t k = 0;
            for (int i = 0; i < row.nfields; i++)
                k += (size_t)snprintf(t + k, 256 - k, "%s%s", i ? "|" : "", row.fields[i]);
        }
        out->n++;
    }
    assert_int_equal(rc, 0);
    out->bom = csvio_had_bom(r);
    snprintf(out->encoding, sizeof out->encoding, "%s", csvio_encoding(r));
    csvio_close(r);
    unlink(path);
    free(path);
}

#define READ(lit, opts, out) read_all(lit, sizeof(lit) - 1, opts, out)

/* ---- reading ---- */

static void test_quoted_newlines_and_escapes(void **state)
{
    (void)state;
    struct records rs;
    READ("id,text\n1,\"two\nlines\"\n2,\"say \"\"hi\"\", ok\"\n3,plain\n", NULL, &rs);
    assert_int_equal(rs.n, 4);
    assert_string_equal(rs.text[0], "id|text");
    assert_int_equal(rs.row[0], 0);
    assert_string_equal(rs.text[1], "1|two\nlines");
    assert_int_equal(rs.row[1], 1);
    assert_string_equal(rs.text[2], "2|say \"hi\", ok");
    assert_string_equal(rs.text[3], "3|plain");
    assert_int_equal(rs.row[3], 3);
}

static void test_crlf_without_final_newline(void **state)
{
    (void)state;
    struct records rs;
    READ("a,b\r\n1,2\r\n\"x\r\ny\",4", NULL, &rs);
    assert_int_equal(rs.n, 3);
    assert_string_equal(rs.text[1], "1|2");
    assert_string_equal(rs.text[2], "x\r\ny|4");
    assert_false(rs.bom);
}

static void test_utf8_bom(void **state)
{
    (void)state;
    struct records rs;
    READ("\xEF\xBB\xBFname,city\nZ\xC3\xBCrich,\xE5\x8C\x97\xE4\xBA\xAC\n", NULL, &rs);
    assert_true(rs.bom);
    assert_string_equal(rs.text[0], "name|city");
    assert_string_equal(rs.text[1], "Z\xC3\xBCrich|\xE5\x8C\x97\xE4\xBA\xAC");
}

static void test_latin1_converted(void **state)
{
    (void)state;
    struct csvio_opts o = {"latin-1", 0, 0, 0};
    struct records rs;
    READ("name,city\r\nCaf\xE9 M\xFCller,K\xF6ln\r\n", &o, &rs);
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.text[1], "Caf\xC3\xA9 M\xC3\xBCller|K\xC3\xB6ln");
    assert_string_equal(rs.encoding, "ISO-8859-1");
}

static void test_gb18030_converted(void **state)
{
    (void)state;
    struct csvio_opts o = {"gb18030", 0, 0, 0};
    struct records rs;
    /* 名字 / 外卖,送餐 in GB18030 */
    READ("\xC3\xFB\xD7\xD6\n\"\xCD\xE2\xC2\xF4,\xCB\xCD\xB2\xCD\"\n", &o, &rs);
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.text[0], "名字");
    assert_string_equal(rs.text[1], "外卖,送餐");
}

static void test_utf16_bom_wins(void **state)
{
    (void)state;
    struct records rs;
    /* UTF-16LE with BOM: "a,b\n\xDC,2\n" (Ü), no encoding declared */
    READ("\xFF\xFE" "a\0,\0b\0\n\0" "\xDC\0,\0" "2\0\n\0", NULL, &rs);
    assert_int_equal(rs.n, 2);
    assert_true(rs.bom);
    assert_string_equal(rs.text[0], "a|b");
    assert_string_equal(rs.text[1], "\xC3\x9C|2");
}

static void test_invalid_utf8_is_a_row_error(void **state)
{
    (void)state;
    struct records rs;
    READ("a,b\nok,1\nbad\xFF,2\nfine,3\n", NULL, &rs);
    assert_int_equal(rs.n, 4);
    assert_string_equal(rs.text[1], "ok|1");
    assert_int_equal(rs.row[2], 2);
    assert_non_null(strstr(rs.text[2], "column 1 is not valid UTF-8"));
    assert_string_equal(rs.text[3], "fine|3");
}

static void test_invalid_source_bytes_marked(void **state)
{
    (void)state;
    struct csvio_opts o = {"gb18030", 0, 0, 0};
    struct records rs;
    /* 0xFF can start no GB18030 character. */
    READ("h\nok\n\xFF\xFF\nok\n", &o, &rs);
    assert_int_equal(rs.n, 4);
    assert_non_null(strstr(rs.text[2], "not valid GB18030"));
    assert_string_equal(rs.text[3], "ok");
}

static void test_field_over_cap(void **state)
{
    (void)state;
    struct csvio_opts o = {NULL, 0, 16, 0};
    struct records rs;
    READ("a,b\nshort,1\n\"this field is far longer than sixteen bytes\",2\nnext,3\n", &o, &rs);
    assert_int_equal(rs.n, 4);
    assert_string_equal(rs.text[1], "short|1");
    assert_non_null(strstr(rs.text[2], "column 1 is longer than 16 bytes"));
    assert_string_equal(rs.text[3], "next|3");
}

static void test_field_count_cap(void **state)
{
    (void)state;
    struct csvio_opts o = {NULL, 0, 0, 3};
    struct records rs;
    READ("a,b,c\n1,2,3\n1,2,3,4,5\n", &o, &rs);
    assert_int_equal(rs.n, 3);
    assert_non_null(strstr(rs.text[2], "more than 3 columns"));
}

static void test_unclosed_quote_is_fatal(void **state)
{
    (void)state;
    size_t n = 3 * 65536 * 4;
    char *big = malloc(n);
    memset(big, 'x', n);
    memcpy(big, "a\n\"", 3);
    char *path = write_temp(big, n);
    free(big);
    struct csvio_opts o = {NULL, 0, 1024, 0};
    struct ax_err err;
    ax_err_clear(&err);
    struct csvio_reader *r = csvio_open(path, &o, &err);
    struct csvio_row row;
    int rc;
    while ((rc = csvio_next(r, &row, &err)) == 1)
        ;
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.detail, "row 1"));
    csvio_close(r);
    unlink(path);
    free(path);
}

static void test_tab_delimiter_keeps_spaces(void **state)
{
    (void)state;
    struct csvio_opts o = {NULL, '\t', 0, 0};
    struct records rs;
    READ("a\tb\nx, y\t2\n", &o, &rs);
    assert_string_equal(rs.text[1], "x, y|2");
}

static void test_count_and_skip(void **state)
{
    (void)state;
    const char csv[] = "h\n1\n\"2\n2\"\n3\n4\n";
    char *path = write_temp(csv, sizeof csv - 1);
    struct ax_err err;
    ax_err_clear(&err);
    long long rows = 0;
    assert_int_equal(csvio_count(path, NULL, &rows, &err), 0);
    assert_int_equal(rows, 4);
    struct csvio_reader *r = csvio_open(path, NULL, &err);
    csvio_skip_to(r, 2);
    struct csvio_row row;
    assert_int_equal(csvio_next(r, &row, &err), 1);
    assert_int_equal(row.row, 0);
    assert_int_equal(csvio_next(r, &row, &err), 1);
    assert_int_equal(row.row, 3);
    assert_string_equal(row.fields[0], "3");
    csvio_close(r);
    unlink(path);
    free(path);
}

static void test_encoding_names_and_sniff(void **state)
{
    (void)state;
    char enc[CSVIO_ENCODING_MAX];
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(csvio_check_encoding("latin1", enc, &err), 0);
    assert_string_equal(enc, "ISO-8859-1");
    assert_int_equal(csvio_check_encoding("windows-1252", enc, &err), 0);
    assert_int_equal(csvio_check_encoding("gbk", enc, &err), 0);
    assert_string_equal(enc, "GB18030");
    assert_int_equal(csvio_check_encoding("klingon", enc, &err), -1);
    assert_int_equal(csvio_check_encoding("UTF-8//IGNORE", enc, &err), -1);

    const char latin[] = "name\nCaf\xE9\n";
    const char gb[] = "\xC3\xFB\xD7\xD6\n\xCD\xE2\xC2\xF4\xCB\xCD\xB2\xCD\n";
    const char *files[] = {latin, gb};
    size_t lens[] = {sizeof latin - 1, sizeof gb - 1};
    const char *want[] = {"WINDOWS-1252", "GB18030"};
    for (int i = 0; i < 2; i++) {
        char *path = write_temp(files[i], lens[i]);
        bool bom;
        assert_int_equal(csvio_sniff(path, enc, &bom, &err), 0);
        assert_string_equal(enc, want[i]);
        unlink(path);
        free(path);
    }
}

/* ---- writing ---- */

static const char *cell(const char *s, bool plain)
{
    static char out[128];
    struct buf b;
    buf_init(&b, 0);
    if (plain)
        csvio_plain_cell(&b, 0, s, strlen(s));
    else
        csvio_cell(&b, 0, s, strlen(s));
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static void test_formula_neutralised(void **state)
{
    (void)state;
    assert_string_equal(cell("=1+2", false), "'=1+2");
    assert_string_equal(cell("+49 30 1234", false), "'+49 30 1234");
    assert_string_equal(cell("-2+3", false), "'-2+3");
    assert_string_equal(cell("@SUM(A1)", false), "'@SUM(A1)");
    assert_string_equal(cell("\tcmd", false), "\"'\tcmd\"");
    assert_string_equal(cell("\rcmd", false), "\"'\rcmd\"");
    assert_string_equal(cell("=HYPERLINK(\"x\")", false), "\"'=HYPERLINK(\"\"x\"\")\"");
    /* Normal text and numbers the exporter writes itself stay as they are. */
    assert_string_equal(cell("Acme Corporation", false), "Acme Corporation");
    assert_string_equal(cell("a=b", false), "a=b");
    assert_string_equal(cell("外卖平台", false), "外卖平台");
    assert_string_equal(cell("-5", true), "-5");
    assert_string_equal(cell("", false), "");
}

static void test_quoting(void **state)
{
    (void)state;
    assert_string_equal(cell("a,b", false), "\"a,b\"");
    assert_string_equal(cell("say \"hi\"", false), "\"say \"\"hi\"\"\"");
    assert_string_equal(cell("two\nlines", false), "\"two\nlines\"");
    assert_string_equal(cell("cr\r\nlf", false), "\"cr\r\nlf\"");
    assert_string_equal(cell(" padded ", false), "\" padded \"");

    struct buf b;
    buf_init(&b, 0);
    csvio_bom(&b);
    csvio_cell(&b, 0, "id", 2);
    csvio_cell(&b, 1, "x,y", 3);
    csvio_end_row(&b);
    assert_string_equal(b.data, "\xEF\xBB\xBFid,\"x,y\"\r\n");
    buf_free(&b);
}

/* What the writer writes, the reader reads back. */
static void test_round_trip(void **state)
{
    (void)state;
    const char *cells[] = {"plain", "a,b", "q\"uote", "multi\nline", "外卖", " edge "};
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 6; i++)
        csvio_cell(&b, i, cells[i], strlen(cells[i]));
    csvio_end_row(&b);
    struct records rs;
    read_all(b.data, b.len, NULL, &rs);
    buf_free(&b);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.text[0], "plain|a,b|q\"uote|multi\nline|外卖| edge ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_newlines_and_escapes),
        cmocka_unit_test(test_crlf_without_final_newline),
        cmocka_unit_test(test_utf8_bom),
        cmocka_unit_test(test_latin1_converted),
        cmocka_unit_test(test_gb18030_converted),
        cmocka_unit_test(test_utf16_bom_wins),
        cmocka_unit_test(test_invalid_utf8_is_a_row_error),
        cmocka_unit_test(test_invalid_source_bytes_marked),
        cmocka_unit_test(test_field_over_cap),
        cmocka_unit_test(test_field_count_cap),
        cmocka_unit_test(test_unclosed_quote_is_fatal),
        cmocka_unit_test(test_tab_delimiter_keeps_spaces),
        cmocka_unit_test(test_count_and_skip),
        cmocka_unit_test(test_encoding_names_and_sniff),
        cmocka_unit_test(test_formula_neutralised),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
