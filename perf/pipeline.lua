-- wrk script: sends 16 requests per write (pipelining). Usage:
--   wrk -t1 -c50 -d5s -s perf/pipeline.lua http://127.0.0.1:8080/page.html
-- wrk counts responses, so its requests/s already counts all 16 of a write.
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
request = function() return req end
