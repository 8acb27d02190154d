# Checks that every example a document copies from the source tree is
# identical to its file. An example is marked in the Markdown source as
#
#   <!-- example: contracts/testdata/good/pingpong.contract -->
#   ```
#   ...the file's text...
#   ```
#
# and an excerpt, a block that must appear verbatim somewhere in its file
# (not refreshed by MILK_UPDATE_EXPECTED: an excerpt that went stale is
# chosen again by hand), as
#
#   <!-- excerpt: components/echo/echo_component.hpp -->
#   ```cpp
#   ...lines of the file...
#   ```
#
#   cmake -DROOT=<source dir> -DDOC=<doc relative to ROOT> -P check_doc_examples.cmake
#
# With MILK_UPDATE_EXPECTED=1 in the environment, the copies are rewritten
# from the files instead (run after the diagnostic cases refreshed theirs).
cmake_minimum_required(VERSION 3.25)
foreach(var ROOT DOC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_doc_examples.cmake: -D${var}=... is required")
  endif()
endforeach()

set(marker "<!-- example: ")
file(READ "${ROOT}/${DOC}" rest)
set(result "")
set(problems "")
set(count 0)
while(TRUE)
  string(FIND "${rest}" "${marker}" at)
  if(at EQUAL -1)
    string(APPEND result "${rest}")
    break()
  endif()
  # Up to the path.
  string(LENGTH "${marker}" marker_length)
  math(EXPR path_begin "${at} + ${marker_length}")
  string(SUBSTRING "${rest}" 0 ${path_begin} head)
  string(APPEND result "${head}")
  string(SUBSTRING "${rest}" ${path_begin} -1 rest)
  string(FIND "${rest}" " -->" path_end)
  string(SUBSTRING "${rest}" 0 ${path_end} path)
  # Up to and including the opening fence's line.
  string(FIND "${rest}" "```" fence)
  string(SUBSTRING "${rest}" ${fence} -1 after_fence)
  string(FIND "${after_fence}" "\n" fence_line_end)
  math(EXPR block_begin "${fence} + ${fence_line_end} + 1")
  string(SUBSTRING "${rest}" 0 ${block_begin} head)
  string(APPEND result "${head}")
  string(SUBSTRING "${rest}" ${block_begin} -1 rest)
  # The block, up to the closing fence at the start of a line.
  string(FIND "${rest}" "\n```" block_end)
  if(block_end EQUAL -1)
    message(FATAL_ERROR "${DOC}: the example of ${path} has no closing fence")
  endif()
  math(EXPR block_length "${block_end} + 1")
  string(SUBSTRING "${rest}" 0 ${block_length} block)
  math(EXPR rest_begin "${block_end} + 1")
  string(SUBSTRING "${rest}" ${rest_begin} -1 rest)

  math(EXPR count "${count} + 1")
  if(NOT EXISTS "${ROOT}/${path}")
    string(APPEND problems "  ${path}: no such file\n")
    string(APPEND result "${block}")
    continue()
  endif()
  file(READ "${ROOT}/${path}" actual)
  string(APPEND result "${actual}")
  if(NOT block STREQUAL actual)
    string(APPEND problems "  ${path}\n")
  endif()
endwhile()

# Excerpts: each block must be found, verbatim, in its file.
set(marker "<!-- excerpt: ")
string(LENGTH "${marker}" marker_length)
file(READ "${ROOT}/${DOC}" rest)
while(TRUE)
  string(FIND "${rest}" "${marker}" at)
  if(at EQUAL -1)
    break()
  endif()
  math(EXPR path_begin "${at} + ${marker_length}")
  string(SUBSTRING "${rest}" ${path_begin} -1 rest)
  string(FIND "${rest}" " -->" path_end)
  string(SUBSTRING "${rest}" 0 ${path_end} path)
  string(FIND "${rest}" "```" fence)
  string(SUBSTRING "${rest}" ${fence} -1 rest)
  string(FIND "${rest}" "\n" fence_line_end)
  math(EXPR block_begin "${fence_line_end} + 1")
  string(SUBSTRING "${rest}" ${block_begin} -1 rest)
  string(FIND "${rest}" "\n```" block_end)
  if(block_end EQUAL -1)
    message(FATAL_ERROR "${DOC}: the excerpt of ${path} has no closing fence")
  endif()
  math(EXPR block_length "${block_end} + 1")
  string(SUBSTRING "${rest}" 0 ${block_length} block)
  string(SUBSTRING "${rest}" ${block_length} -1 rest)
  math(EXPR count "${count} + 1")
  if(NOT EXISTS "${ROOT}/${path}")
    string(APPEND problems "  ${path}: no such file\n")
    continue()
  endif()
  file(READ "${ROOT}/${path}" actual)
  string(FIND "${actual}" "${block}" found)
  if(found EQUAL -1)
    string(APPEND problems "  ${path}: the excerpt is not in the file\n")
  endif()
endwhile()

if(count EQUAL 0)
  message(FATAL_ERROR "${DOC}: no examples found")
endif()
if("$ENV{MILK_UPDATE_EXPECTED}" STREQUAL "1")
  file(WRITE "${ROOT}/${DOC}" "${result}")
  message(STATUS "updated the ${count} examples of ${DOC}")
  return()
endif()
if(NOT problems STREQUAL "")
  message(FATAL_ERROR "${DOC}: these examples differ from their files:\n${problems}"
                      "Rerun with MILK_UPDATE_EXPECTED=1 to copy the files into the document.")
endif()
