/* test_lua_rt.c - the Lua sandbox: escapes refused, budgets enforced even
 * through pcall, JSON round trips, require, rejections, the pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/lua_rt.h"

#include <lauxlib.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lua_budget small = {
    .instructions = 2000000, .memory = 4 << 20, .wall_ms = 2000, .host_calls = 5, .rows = 2};

/* Open a state whose module "m" is `src`, call m.run(arg). */
struct outcome {
    int rc;
    struct lua_run run;
    struct ax_err err;
    json_t *result, *back;
};

static struct outcome call_src(const char *src, json_t *arg)
{
    struct outcome o;
    memset(&o, 0, sizeof o);
    struct lua_module m = {"m", "m.lua", src, strlen(src)};
    struct ax_err err;
    ax_err_clear(&err);
    struct lua_rt *rt = lua_rt_open(1, 1, &m, 1, NULL, NULL, &err);
    assert_non_null(rt);
    o.run.budget = small;
    ax_err_clear(&o.err);
    o.rc = lua_rt_call(rt, "m", "run", arg, &o.result, &o.back, &o.run, &o.err);
    lua_rt_close(rt);
    return o;
}

static void assert_fails_with(const char *src, const char *needle)
{
    struct outcome o = call_src(src, NULL);
    assert_int_equal(o.rc, -1);
    if (!strstr(o.run.error, needle))
        fail_msg("expected '%s' in: %s", needle, o.run.error);
    assert_string_equal(o.err.type, "workflow-error");
    json_decref(o.result);
    json_decref(o.back);
}

/* json NULL: only that the call succeeds. */
static void assert_returns(const char *src, const char *json)
{
    struct outcome o = call_src(src, NULL);
    if (o.rc)
        fail_msg("call failed: %s", o.run.error);
    char *got = json_dumps(o.result, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (json)
        assert_string_equal(got, json);
    free(got);
    json_decref(o.result);
    json_decref(o.back);
}

#define M(body) "local M = {} function M.run(event) " body " end return M"

static void test_returns_and_json(void **s)
{
    (void)s;
    assert_returns(M("return {a=1, b={1,2,3}, c='文字', d=1.5, e=true}"),
                   "{\"a\":1,\"b\":[1,2,3],\"c\":\"文字\",\"d\":1.5,\"e\":true}");
    assert_returns(M("return nil"), "null");
    assert_returns(M("return {}"), "{}");
}

static void test_arg_round_trip(void **s)
{
    (void)s;
    json_t *arg = json_pack("{s:{s:s,s:[],s:n}}", "record", "priority", "low", "tags", "x");
    struct outcome o = call_src(M("event.record.priority = 'high'; event.record.new = #event.record.tags"), arg);
    assert_int_equal(o.rc, 0);
    char *back = json_dumps(o.back, JSON_COMPACT | JSON_SORT_KEYS);
    /* empty arrays stay arrays; a null member reads as nil, so it is left out */
    assert_string_equal(back, "{\"record\":{\"new\":0,\"priority\":\"high\",\"tags\":[]}}");
    free(back);
    json_decref(arg);
    json_decref(o.result);
    json_decref(o.back);
}

static void test_escapes_refused(void **s)
{
    (void)s;
    assert_fails_with(M("return package.loadlib('/lib/x.so', 'f')"), "not available");
    assert_fails_with(M("return io.open('/etc/passwd')"), "not available");
    assert_fails_with(M("return os.execute('id')"), "field 'execute'");
    assert_fails_with(M("return debug.getregistry()"), "not available");
    assert_fails_with(M("return dofile('/etc/passwd')"), "not available");
    assert_fails_with(M("return loadfile('/etc/passwd')"), "not available");
    assert_fails_with(M("return collectgarbage('count')"), "not available");
    assert_fails_with(M("return rawset(_G, 'x', 1)"), "not available");
    /* string.dump is gone, from the library and from the string metatable */
    assert_fails_with(M("return string.dump(function() end)"), "field 'dump'");
    assert_fails_with(M("return ('').dump(function() end)"), "field 'dump'");
    /* a binary chunk (the signature of string.dump's output) is refused */
    assert_fails_with(M("local f = load('\\27Lua\\84\\0'); return f()"), "attempt to call a nil");
    assert_fails_with(M("return load('return 1', 'x', 'b')"), "only text chunks");
    /* globals are read-only, and _G cannot be re-metatabled */
    assert_fails_with(M("x = 1"), "read-only");
    assert_fails_with(M("setmetatable(_G, {})"), "protected metatable");
    assert_fails_with(M("getmetatable('').__index.upper = nil"), "attempt to index");
    assert_fails_with(M("string.upper = nil"), "read-only");
    assert_fails_with(M("_G.print = nil"), "read-only");
    /* require only sees the pack */
    assert_fails_with(M("return require('os')"), "not part of this pack");
    /* load()ed code sees the sandbox, not the real globals */
    assert_fails_with(M("return load('return io.open')()"), "not available");
    /* os keeps time, date and clock */
    assert_returns(M("return type(os.time()) .. type(os.date('%Y')) .. type(os.clock())"),
                   "\"numberstringnumber\"");
}

static void test_budgets(void **s)
{
    (void)s;
    assert_fails_with(M("while true do end"), "instruction budget");
    assert_fails_with(M("while true do pcall(function() while true do end end) end"),
                      "instruction budget");
    assert_fails_with(M("local ok repeat ok = pcall(function() while true do end end) until false"),
                      "budget");
    assert_fails_with(M("local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end"),
                      "memory budget");
    assert_fails_with(M("local t = {} while true do pcall(function() for i=1,1e9 do t[#t+1] = tostring(i) end end) end"),
                      "budget");
    assert_fails_with(M("return string.rep('x', 1 << 40)"), "");
    assert_fails_with(M("return string.rep('abc', 100000000)"), "memory");
    assert_fails_with(M("local function f(n) return 1 + f(n + 1) end return f(1)"), "memory budget");
    assert_fails_with(M("local co = coroutine.wrap(function() while true do end end) co()"),
                      "instruction budget");
    assert_fails_with(M("local co = coroutine.create(function() while true do end end) "
                        "local ok = coroutine.resume(co) while true do end"), "instruction budget");
    assert_fails_with(M("coroutine.yield()"), "outside a coroutine");
    assert_fails_with(M("return string.find(string.rep('a', 20000), '.-.-.-.-b')"),
                      "could take too long");
    /* small enough to be cheap, or one repetition: allowed */
    assert_returns(M("return (string.gsub(string.rep('a b ', 50000), '%s+', ''))") ,
                   NULL);
    assert_returns(M("return string.match('key=value', '^(.-)=(.+)$')"), "\"key\"");
    assert_fails_with(M("return string.rep('a', 350):find('.-.-.-b')"), "could take too long");
    /* finalizers run with hooks off: refused */
    assert_fails_with(M("setmetatable({}, {__gc = function() while true do end end})"),
                      "__gc (finalizers) is not available");
    /* a table shared many times over does not become gigabytes of JSON */
    assert_fails_with(M("local a = {1} for i = 1, 23 do a = {a, a} end return a"),
                      "too large to convert");
}

static void test_wall_time(void **s)
{
    (void)s;
    struct lua_module m = {"m", "m.lua", M("local x = 0 while true do x = x + 1 end"), 0};
    m.len = strlen(m.src);
    struct ax_err err;
    ax_err_clear(&err);
    struct lua_rt *rt = lua_rt_open(1, 1, &m, 1, NULL, NULL, &err);
    struct lua_run run = {.budget = {.instructions = (int64_t)1 << 50, .memory = 1 << 20,
                                     .wall_ms = 50, .host_calls = 1, .rows = 1}};
    assert_int_equal(lua_rt_call(rt, "m", "run", NULL, NULL, NULL, &run, &err), -1);
    assert_string_equal(run.killed, "wall-time");
    assert_true(run.elapsed_ms < 1000);
    lua_rt_close(rt);
}

static void test_error_has_line_and_traceback(void **s)
{
    (void)s;
    struct outcome o = call_src("local M = {}\nfunction M.run(e)\n  local x = nil\n  return x.y\nend\nreturn M", NULL);
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.run.where, "m.lua:4");
    assert_int_equal(o.run.line, 4);
    assert_non_null(strstr(o.run.traceback, "stack traceback"));
    assert_non_null(strstr(o.run.error, "attempt to index a nil value"));
}

static int reject_fn(lua_State *L)
{
    return lua_rt_reject(L, luaL_checkstring(L, 1), lua_tostring(L, 2));
}

static void install_reject(lua_State *L, void *arg)
{
    (void)arg;
    lua_pushcfunction(L, reject_fn);
    lua_setfield(L, -2, "reject");
}

static void test_reject_and_require(void **s)
{
    (void)s;
    struct lua_module mods[] = {
        {"m", "m.lua", "local u = require('lib.util') local M = {} "
                       "function M.run(e) if u.bad(e.n) then reject('too big', 'amount') end return u.twice(e.n) end "
                       "function M.loop() return require('m') end return M", 0},
        {"lib.util", "lib/util.lua", "return {twice=function(n) return 2*n end, bad=function(n) return n > 10 end}", 0},
    };
    for (int i = 0; i < 2; i++)
        mods[i].len = strlen(mods[i].src);
    struct ax_err err;
    ax_err_clear(&err);
    struct lua_rt *rt = lua_rt_open(1, 1, mods, 2, install_reject, NULL, &err);
    struct lua_run run = {.budget = small};
    json_t *res = NULL, *arg = json_pack("{s:i}", "n", 4);
    assert_int_equal(lua_rt_call(rt, "m", "run", arg, &res, NULL, &run, &err), 0);
    assert_int_equal(json_integer_value(res), 8);
    json_decref(res);
    json_decref(arg);
    arg = json_pack("{s:i}", "n", 40);
    ax_err_clear(&err);
    assert_int_equal(lua_rt_call(rt, "m", "run", arg, &res, NULL, &run, &err), -1);
    assert_string_equal(err.type, "rejected");
    assert_string_equal(err.detail, "too big");
    assert_int_equal(err.nfields, 1);
    assert_string_equal(err.fields[0].pointer, "/amount");
    json_decref(arg);
    ax_err_clear(&err);
    assert_int_equal(lua_rt_call(rt, "m", "nope", NULL, NULL, NULL, &run, &err), -1);
    assert_non_null(strstr(run.error, "has no function 'nope'"));
    lua_rt_close(rt);

    /* a module that fails to load reports its own error every time */
    struct lua_module bad = {"bad", "bad.lua", "error('broken module')", 0};
    bad.len = strlen(bad.src);
    rt = lua_rt_open(1, 1, &bad, 1, NULL, NULL, &err);
    for (int i = 0; i < 2; i++) {
        ax_err_clear(&err);
        assert_int_equal(lua_rt_call(rt, "bad", "run", NULL, NULL, NULL, &run, &err), -1);
        if (!strstr(run.error, "broken module"))
            fail_msg("attempt %d: %s", i + 1, run.error);
    }
    lua_rt_close(rt);
}

static void test_to_json_refuses(void **s)
{
    (void)s;
    assert_fails_with(M("local t = {} t.t = t return t"), "nests deeper");
    assert_fails_with(M("return {f = print}"), "function cannot become JSON");
    assert_fails_with(M("return {x = 0/0}"), "finite");
    assert_fails_with(M("return {s = '\\255'}"), "UTF-8");
}

static struct lua_rt *load_counter(void *arg, struct ax_err *err)
{
    (*(int *)arg)++;
    struct lua_module m = {"m", "m.lua", M("return 1"), 0};
    m.len = strlen(m.src);
    return lua_rt_open(7, 3, &m, 1, NULL, NULL, err);
}

static void test_pool(void **s)
{
    (void)s;
    int loads = 0;
    struct ax_err err;
    ax_err_clear(&err);
    struct lua_rt *a = lua_pool_get(7, 3, load_counter, &loads, &err);
    struct lua_rt *b = lua_pool_get(7, 3, load_counter, &loads, &err);
    assert_int_equal(loads, 2);      /* two users at once: two states */
    assert_ptr_not_equal(a, b);
    lua_pool_put(a);
    lua_pool_put(b);
    struct lua_rt *c = lua_pool_get(7, 3, load_counter, &loads, &err);
    assert_int_equal(loads, 2);      /* reused */
    lua_pool_put(c);
    lua_pool_drop_tenant(7);
    c = lua_pool_get(7, 3, load_counter, &loads, &err);
    assert_int_equal(loads, 3);
    lua_pool_put(c);
    lua_pool_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_returns_and_json),
        cmocka_unit_test(test_arg_round_trip),
        cmocka_unit_test(test_escapes_refused),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_wall_time),
        cmocka_unit_test(test_error_has_line_and_traceback),
        cmocka_unit_test(test_reject_and_require),
        cmocka_unit_test(test_to_json_refuses),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
