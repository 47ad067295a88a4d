# Runs the dashboard's browser tests (*.test.mjs here) with `node --test`: ctest's browser_dashboard
# (tests/CMakeLists.txt) calls it with -D NODE, TESTS (this folder), SERVER_BIN, CLIENT_BIN and
# SCREENSHOTS. What the tests need and the build does not make (Node.js, playwright-core from npm,
# Debian's chromium) must be there: when one is missing the test fails and says what to run; it
# never passes without having run.
foreach(var NODE TESTS SERVER_BIN CLIENT_BIN SCREENSHOTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is missing")
  endif()
endforeach()

set(how "run tools/test, which installs all of it (or tools/setup, then 'npm ci' in tests/browser)")
if(NOT NODE OR NOT EXISTS "${NODE}")
  message(FATAL_ERROR "browser tests: Node.js (node) was not found when cmake configured: ${how}, "
                      "then configure again")
endif()
if(NOT EXISTS "${TESTS}/node_modules/playwright-core/package.json")
  message(FATAL_ERROR "browser tests: playwright-core is not installed in ${TESTS}/node_modules: ${how}")
endif()
if(NOT EXISTS /usr/bin/chromium)
  message(FATAL_ERROR "browser tests: /usr/bin/chromium (Debian's chromium) is missing: ${how}")
endif()

file(GLOB tests "${TESTS}/*.test.mjs")
if(NOT tests)
  message(FATAL_ERROR "browser tests: no *.test.mjs in ${TESTS}")
endif()
file(REMOVE_RECURSE "${SCREENSHOTS}")
file(MAKE_DIRECTORY "${SCREENSHOTS}")
set(ENV{SHIFTBOOK_SERVER_BIN} "${SERVER_BIN}")
set(ENV{SHIFTBOOK_BIN} "${CLIENT_BIN}")
set(ENV{SHIFTBOOK_SCREENSHOTS} "${SCREENSHOTS}")
# The tests bound each of their waits and all of them together (240 s); this is the last resort.
execute_process(COMMAND "${NODE}" --test --test-reporter=spec ${tests}
                WORKING_DIRECTORY "${TESTS}" RESULT_VARIABLE result TIMEOUT 270)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "browser tests failed (${result}); screenshots and the server's log are in ${SCREENSHOTS}")
endif()
message(STATUS "browser tests passed; screenshots in ${SCREENSHOTS}")
