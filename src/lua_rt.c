/* lua_rt.c - the Lua sandbox: states, budgets, JSON conversion, pool. */
#include "axon/lua_rt.h"

/* What the environment of a pack's script holds, besides `axon`. */
const char *const lua_rt_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
    "type", "xpcall", "getmetatable", "setmetatable", "rawequal", "rawget", "rawlen", "print",
    "require", "load", "_G", "_VERSION", "string", "table", "math", "utf8", "coroutine", "os",
    NULL
};

/* Members of the libraries above that scripts may use. */
const char *const lua_rt_library_members[] = {
    "string.byte", "string.char", "string.find", "string.format", "string.gmatch",
    "string.gsub", "string.len", "string.lower", "string.match", "string.rep",
    "string.reverse", "string.sub", "string.upper", "string.pack", "string.packsize",
    "string.unpack",
    "table.concat", "table.insert", "table.move", "table.pack", "table.remove", "table.sort",
    "table.unpack",
    "math.abs", "math.ceil", "math.cos", "math.deg", "math.exp", "math.floor", "math.fmod",
    "math.huge", "math.log", "math.max", "math.maxinteger", "math.min", "math.mininteger",
    "math.modf", "math.pi", "math.rad", "math.random", "math.randomseed", "math.sin",
    "math.sqrt", "math.tan", "math.tointeger", "math.type", "math.ult", "math.asin",
    "math.acos", "math.atan",
    "utf8.char", "utf8.charpattern", "utf8.codes", "utf8.codepoint", "utf8.len", "utf8.offset",
    "coroutine.close", "coroutine.create", "coroutine.isyieldable", "coroutine.resume",
    "coroutine.running", "coroutine.status", "coroutine.wrap", "coroutine.yield",
    "os.time", "os.date", "os.clock",
    NULL
};

/* Names scripts reach for that the sandbox refuses on purpose. */
const char *const lua_rt_forbidden[] = {
    "io", "debug", "package", "dofile", "loadfile", "loadstring", "collectgarbage", "rawset",
    "setfenv", "getfenv", "module", "newproxy", "string.dump", "os.execute", "os.exit",
    "os.getenv", "os.remove", "os.rename", "os.tmpname", "os.setlocale", "io.open",
    "io.popen", "io.lines", "package.loadlib", "debug.getregistry", "debug.sethook",
    NULL
};
