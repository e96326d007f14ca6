-- wrk -s bench/wrk.lua: the request esconnector sends for
-- connector.update_api_key_id (same method, path, headers and body).
-- luacheck: globals wrk
wrk.method = "PUT"
wrk.path = "/_connector/bench/_api_key_id"
wrk.body = '{"api_key_id":"k"}'
wrk.headers["Accept"] = "application/vnd.elasticsearch+json; compatible-with=8"
wrk.headers["Content-Type"] = "application/vnd.elasticsearch+json; compatible-with=8"
