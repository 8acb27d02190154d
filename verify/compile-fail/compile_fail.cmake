# Runs one compile-fail test (see CMakeLists.txt):
#   cmake -DCOMPILER=... -DSOURCE=x.cpp -DINCLUDES=a;b -DFLAGS=f;g -P compile_fail.cmake
#   cmake -DTIDY=clang-tidy-19 -DSOURCE=x.cpp ... -P compile_fail.cmake   (a `// tool: clang-tidy` fixture)
cmake_minimum_required(VERSION 3.25)

file(STRINGS "${SOURCE}" expect_lines REGEX "^// expect: ")
file(STRINGS "${SOURCE}" success_lines REGEX "^// expect-success")
if(NOT expect_lines AND NOT success_lines)
  message(FATAL_ERROR "${SOURCE}: no `// expect: <regex>` or `// expect-success` line")
endif()

set(include_flags)
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags "-I${dir}")
endforeach()
if(TIDY)
  # Only the check the fixture is about, as an error, and no configuration
  # file from the tree (the fixture must not depend on .clang-tidy).
  set(tool_command "${TIDY}" --config= "--checks=-*,bugprone-use-after-move"
      "--warnings-as-errors=bugprone-use-after-move" "${SOURCE}" -- ${FLAGS} ${include_flags})
  set(COMPILER "${TIDY}")  # for the messages below
else()
  set(tool_command "${COMPILER}" ${FLAGS} ${include_flags} "${SOURCE}")
endif()
execute_process(
  COMMAND ${tool_command}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)

if(success_lines)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${SOURCE} must compile, but ${COMPILER} failed:\n${output}")
  endif()
  return()
endif()

if(status EQUAL 0)
  message(FATAL_ERROR "${SOURCE} passed ${COMPILER}, but it is a misuse that must be reported")
endif()
foreach(line IN LISTS expect_lines)
  string(REPLACE "// expect: " "" pattern "${line}")
  if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but not for the expected reason.\n"
                        "Expected output matching: ${pattern}\n${COMPILER} said:\n${output}")
  endif()
endforeach()
