# Compares milkc's output with the checked-in goldens, or refreshes them.
#
#   cmake -DGENERATED_DIR=... -DGOLDEN_DIR=... -DFILES=a;b -DMODE=compare|refresh -P goldens.cmake
#
# FILES are the generated files (absolute paths in GENERATED_DIR); each has a
# golden of the same name in GOLDEN_DIR. `compare` fails on any difference,
# on a missing golden, and on a golden that no generated file matches (a
# renamed contract would otherwise leave a stale golden passing forever).
cmake_minimum_required(VERSION 3.25)

foreach(var GENERATED_DIR GOLDEN_DIR FILES MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "goldens.cmake: ${var} is not set")
  endif()
endforeach()

set(refresh_hint "if the change is intended: cmake --build <build dir> --target refresh-goldens, then review git diff")

if(MODE STREQUAL "refresh")
  file(MAKE_DIRECTORY "${GOLDEN_DIR}")
endif()

set(names)
foreach(file IN LISTS FILES)
  cmake_path(GET file FILENAME name)
  list(APPEND names ${name})
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "generated file ${file} is missing: build the target milk_generated_contracts first")
  endif()
  set(golden "${GOLDEN_DIR}/${name}")
  if(MODE STREQUAL "refresh")
    file(COPY_FILE "${file}" "${golden}" ONLY_IF_DIFFERENT)
    continue()
  endif()
  if(NOT EXISTS "${golden}")
    message(SEND_ERROR "no golden for ${name} (expected ${golden}); ${refresh_hint}")
    continue()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${golden}" "${file}" RESULT_VARIABLE different)
  if(different)
    # Show what changed; `diff` is on every system this project supports,
    # but the comparison above does not depend on it.
    execute_process(COMMAND diff -u "${golden}" "${file}" OUTPUT_VARIABLE diff_text ERROR_QUIET)
    message(SEND_ERROR "${name} differs from its golden ${golden}:\n${diff_text}\n${refresh_hint}")
  endif()
endforeach()

file(GLOB goldens RELATIVE "${GOLDEN_DIR}" "${GOLDEN_DIR}/*")
foreach(golden IN LISTS goldens)
  if(NOT golden IN_LIST names)
    if(MODE STREQUAL "refresh")
      file(REMOVE "${GOLDEN_DIR}/${golden}")
      message(STATUS "removed stale golden ${golden}")
    else()
      message(SEND_ERROR "golden ${golden} matches no generated file: remove it, or refresh the goldens")
    endif()
  endif()
endforeach()
