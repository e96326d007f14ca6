std = "max"
max_line_length = 120
exclude_files = { "build/**", ".rocks/**" }
files["spec/**/*_spec.lua"] = { std = "+busted" }
files["emulator/lua/**/*.lua"] = { globals = { "ngx" } }
files["lua/esconnector/transport/resty.lua"] = { read_globals = { "ngx" } }
