-- Library, CLI, examples and benchmarks: only what every supported Lua has
-- (5.1 to 5.4 and LuaJIT: std "min"), plus what a file needs.
std = "min"
max_line_length = 120
exclude_files = { "build/**", ".rocks/**" }
files["spec/**/*.lua"] = { std = "min+busted" }
-- Code that runs inside nginx: luacheck's ngx_lua std (LuaJIT plus ngx.*)
files["emulator/lua/**/*.lua"] = { std = "ngx_lua" }
files["spec/openresty/handlers.lua"] = { std = "ngx_lua" }
files["examples/openresty/**/*.lua"] = { std = "ngx_lua" }
files["lua/esconnector/transport/resty.lua"] = { std = "ngx_lua" }
-- Guarded uses of what only some Lua versions have (`if math.type then`):
files["lua/esconnector/json.lua"] = { read_globals = { math = { fields = { "type", "tointeger" } } } }
files["spec/yaml_runner_spec.lua"] = { read_globals = { math = { fields = { "type" } } } }
files["spec/hostile_input_spec.lua"] = {
  read_globals = { math = { fields = { "type", "tointeger", "maxinteger", "mininteger" } } } }
files["spec/json_spec.lua"] = {
  read_globals = { math = { fields = { "type", "tointeger", "maxinteger", "mininteger" } } } }
files["spec/emulator_spec.lua"] = { read_globals = { "unpack", table = { fields = { "unpack" } } } }
