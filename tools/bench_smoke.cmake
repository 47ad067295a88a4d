# The benchmark's smoke test (ctest bench.smoke): every row at a tiny size, one run. The benchmark
# checks its own answers (every push acknowledged, the pulling terminal holds the whole chain,
# every terminal of the load generator received exactly its unit's events with verified receipts
# and heads, every dashboard overview shows each unit's output as pushed) and stops with a non-zero
# status when one does not check out; this script checks that it exited 0, printed every row, and
# wrote the JSON it was asked for.
# With -DMODE=usage it checks instead that bad options are refused with exit status 2 and a message
# naming the option.
#   cmake -DBENCH=path/to/shiftbook-bench -DWORK=scratch-folder [-DMODE=usage] -P bench_smoke.cmake
if(MODE STREQUAL "usage")
  foreach(case "--runs;0;--runs: Value 0 not in range 1 to 100"
               "--only;everything;--only: everything not in"
               "--terminals;1;--terminals: Value 1 not in range 2 to 2000"
               "--dir;/nonexistent/folder;--dir: Directory does not exist"
               "--report-events;10;--report-events: Value 10 not in range 1000 to 100000000"
               "--dashboard-events;10;--dashboard-events: Value 10 not in range 1000 to 100000000"
               "--store;mysql://x;--store: must be sqlite: or a postgresql://")
    list(GET case 0 option)
    list(GET case 1 value)
    list(GET case 2 expected)
    execute_process(COMMAND ${BENCH} ${option} ${value} RESULT_VARIABLE status OUTPUT_VARIABLE out
                    ERROR_VARIABLE err TIMEOUT 30)
    if(NOT status EQUAL 2 OR NOT err MATCHES "^shiftbook-bench: ${expected}" OR NOT out STREQUAL "")
      message(FATAL_ERROR "${option} ${value}: exit ${status}, expected 2 and '${expected}':\n${out}${err}")
    endif()
  endforeach()
  # Rows that cannot run on PostgreSQL yet are refused, not run on SQLite instead (no server needed:
  # the refusal comes before any connection).
  foreach(case "--only;pull;the pull row cannot run on PostgreSQL yet"
               "--store;postgres://x@127.0.0.1:1/y;give each kind at most once")
    list(GET case 0 option)
    list(GET case 1 value)
    list(GET case 2 expected)
    execute_process(COMMAND ${BENCH} --store postgresql://nobody@127.0.0.1:1/none ${option} ${value}
                    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
    if(NOT status EQUAL 2 OR NOT err MATCHES "${expected}" OR NOT out STREQUAL "")
      message(FATAL_ERROR "--store postgresql:// ${option} ${value}: exit ${status}, expected 2 and '${expected}':\n${out}${err}")
    endif()
  endforeach()
  return()
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(
  COMMAND ${BENCH} --quick --runs 1 --dir ${WORK} --json ${WORK}/figures.json
          --push-events 40 --pull-events 300 --entries 8 --terminals 4 --per-unit 2 --terminal-events 30
          --report-events 2000 --dashboard-events 2000 --dashboard-terminals 4
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 280)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "shiftbook-bench exited with ${status}\n${out}\n${err}")
endif()
foreach(expected
    "push run 1: 41 events"
    "pull run 1: 300 events"
    "entry run 1: 8 entries"
    "terminals run 1: 4 of 4 acknowledged, 4 complete"
    "4 of 4 acknowledged, 4 pulled their unit's"
    "report run 1: read [0-9.]+ s, up to date [0-9.]+ s, recompute [0-9.]+ s"
    "period report over [0-9,]+ events: read"
    "dashboard run 1: first overview [0-9.]+ s; 20 later"
    "dashboard overview, [0-9,]+ events, 4 terminals: first request")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "shiftbook-bench did not print '${expected}':\n${out}\n${err}")
  endif()
endforeach()
file(READ ${WORK}/figures.json doc)
string(JSON rows LENGTH "${doc}" figures)
if(NOT rows EQUAL 13)
  message(FATAL_ERROR "figures.json holds ${rows} figures, not 13:\n${doc}")
endif()
string(JSON push_row GET "${doc}" figures 0 row)
string(JSON report_row GET "${doc}" figures 6 row)
string(JSON report_value TYPE "${doc}" figures 6 value)
string(JSON dashboard_row GET "${doc}" figures 10 row)
string(JSON dashboard_value TYPE "${doc}" figures 10 value)
if(NOT push_row STREQUAL "push" OR NOT report_row STREQUAL "report" OR NOT report_value STREQUAL "NUMBER"
   OR NOT dashboard_row STREQUAL "dashboard" OR NOT dashboard_value STREQUAL "NUMBER")
  message(FATAL_ERROR "figures.json is not the table printed:\n${doc}")
endif()
# With a PostgreSQL server to use ($SHIFTBOOK_TEST_POSTGRES, as tools/test sets it): the push row on
# both stores in one run, side by side, and the plain PostgreSQL insert among the ceilings.
if(DEFINED ENV{SHIFTBOOK_TEST_POSTGRES} AND NOT "$ENV{SHIFTBOOK_TEST_POSTGRES}" STREQUAL "")
  execute_process(
    COMMAND ${BENCH} --quick --runs 1 --dir ${WORK} --only push --push-events 40
            --store sqlite: --store $ENV{SHIFTBOOK_TEST_POSTGRES}
    RESULT_VARIABLE status
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 120)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "shiftbook-bench --store postgresql:// exited with ${status}\n${out}\n${err}")
  endif()
  foreach(expected "push run 1 \\(SQLite\\): 41 events" "push run 1 \\(PostgreSQL\\): 41 events"
                   "plain PostgreSQL insert" "plain PostgreSQL insert of each event")
    if(NOT out MATCHES "${expected}")
      message(FATAL_ERROR "shiftbook-bench --store postgresql:// did not print '${expected}':\n${out}\n${err}")
    endif()
  endforeach()
endif()
file(GLOB left ${WORK}/*)
list(REMOVE_ITEM left ${WORK}/figures.json)
if(left)
  message(FATAL_ERROR "shiftbook-bench left its scratch folders behind: ${left}")
endif()
file(REMOVE_RECURSE ${WORK})
