-- wrk script: POST the chat-completions bodies of the golden set, in turn, to the simulator.
--
-- BODIES names a file with one JSON request body per line (written by gen.py from the same
-- golden set `probity run` and promptfoo send). Each wrk thread cycles through them, so the
-- simulator answers the same cases for all three tools.

local bodies = {}

function init(args)
  local path = os.getenv("BODIES")
  if not path then
    error("set BODIES to the file of request bodies")
  end
  for line in io.lines(path) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  if #bodies == 0 then
    error("no request bodies in " .. path)
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dummy-key"

local i = 0

function request()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end

-- Non-2xx answers would make the comparison meaningless: print them so run.sh can fail.
function done(summary, latency, requests)
  io.write(string.format("wrk-errors: status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
