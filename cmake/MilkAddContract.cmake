# milk_add_contract(<target> CONTRACTS <file>... [EMIT <kind>[,<kind>...]])
#
# Runs milkc on the contract files at build time and makes <target> an
# INTERFACE library that consumers link to get the generated headers and the
# milk runtime:
#
#   milk_add_contract(pingpong_contract CONTRACTS pingpong.contract)
#   add_executable(pingpong main.cpp)
#   target_link_libraries(pingpong PRIVATE pingpong_contract)   # #include "pingpong.hpp"
#
# The output goes to ${CMAKE_CURRENT_BINARY_DIR}/<target>_milk/: for
# `fs.contract`, `fs.hpp` (EMIT cpp), `fs.kstub.h` (kernel), `fs.dot` (dot) and
# `fs.pml` (promela). EMIT defaults to `cpp,kernel`, as milkc's own default.
#
# Which milkc runs: the variable MILK_MILKC_EXECUTABLE when set (a target name
# or a path, for example a milkc built for the host when cross-compiling),
# otherwise the target milk::milkc. In milk's own build milk::milkc is an
# alias of the milkc target; after find_package(milk) it is the installed
# milkc.
#
# For build rules that need the generated files themselves (tests, packaging),
# <target> has the properties MILK_GENERATED_DIR (the output directory) and
# MILK_GENERATED_FILES (every generated file), and the custom target
# <target>_milkc runs the generation.
#
# This file is installed next to milkConfig.cmake and included by it, so it
# must only use what an outside project has: no variable of milk's own build.

include_guard(GLOBAL)

# milkc's --emit kinds and the file name suffix each one writes.
set(_milk_emit_kinds cpp kernel dot promela)
set(_milk_emit_suffix_cpp .hpp)
set(_milk_emit_suffix_kernel .kstub.h)
set(_milk_emit_suffix_dot .dot)
set(_milk_emit_suffix_promela .pml)

function(milk_add_contract target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "CONTRACTS;EMIT")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "milk_add_contract(${target}): unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_CONTRACTS)
    message(FATAL_ERROR "milk_add_contract(${target}): no CONTRACTS given")
  endif()

  # EMIT accepts milkc's spelling (cpp,kernel) as well as a CMake list.
  set(emit cpp kernel)
  if(arg_EMIT)
    string(REPLACE "," ";" emit "${arg_EMIT}")
  endif()
  foreach(kind IN LISTS emit)
    if(NOT kind IN_LIST _milk_emit_kinds)
      message(FATAL_ERROR "milk_add_contract(${target}): unknown EMIT kind '${kind}' "
                          "(known: ${_milk_emit_kinds})")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES emit)
  list(JOIN emit "," emit_flag)

  # Find milkc. A target name is resolved through aliases, because COMMAND and
  # DEPENDS of add_custom_command only understand real (or imported) targets;
  # naming the target in DEPENDS is what makes generation re-run when milkc is
  # rebuilt, and build milkc first in milk's own tree.
  if(DEFINED MILK_MILKC_EXECUTABLE AND NOT MILK_MILKC_EXECUTABLE STREQUAL "")
    set(milkc "${MILK_MILKC_EXECUTABLE}")
  elseif(TARGET milk::milkc)
    set(milkc milk::milkc)
  else()
    message(FATAL_ERROR "milk_add_contract(${target}): milkc not found: call find_package(milk) "
                        "first, or set MILK_MILKC_EXECUTABLE")
  endif()
  if(TARGET "${milkc}")
    get_target_property(aliased "${milkc}" ALIASED_TARGET)
    if(aliased)
      set(milkc "${aliased}")
    endif()
    set(milkc_command "$<TARGET_FILE:${milkc}>")
  else()
    set(milkc_command "${milkc}")
  endif()

  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_milk")
  set(all_outputs)
  set(seen_stems)
  foreach(contract IN LISTS arg_CONTRACTS)
    cmake_path(ABSOLUTE_PATH contract BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
               OUTPUT_VARIABLE contract_path)
    cmake_path(GET contract_path STEM LAST_ONLY stem)
    # Output files are named after the contract file, so two contracts with
    # the same file name would overwrite each other's headers.
    if(stem IN_LIST seen_stems)
      message(FATAL_ERROR "milk_add_contract(${target}): two contracts named '${stem}'; "
                          "put them in separate targets")
    endif()
    list(APPEND seen_stems "${stem}")

    set(outputs)
    foreach(kind IN LISTS emit)
      list(APPEND outputs "${out_dir}/${stem}${_milk_emit_suffix_${kind}}")
    endforeach()
    # One command per contract: editing one contract regenerates only its
    # own outputs, and milkc writes nothing on error, so a failed run leaves
    # the outputs missing and the next build tries again.
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${out_dir}"
      COMMAND ${milkc_command} "${contract_path}" --out "${out_dir}" --emit "${emit_flag}"
      DEPENDS "${contract_path}" ${milkc}
      COMMENT "milkc: generating ${stem} (${emit_flag}) for ${target}"
      VERBATIM)
    list(APPEND all_outputs ${outputs})
  endforeach()

  # An INTERFACE library builds nothing, so generation hangs off a custom
  # target; CMake follows add_dependencies() of an INTERFACE library
  # transitively, so every target that links <target> waits for the headers.
  # The custom target is part of `all`, so that a plain build checks and
  # generates every contract even before any program links it.
  add_custom_target(${target}_milkc ALL DEPENDS ${all_outputs})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_milkc)
  target_include_directories(${target} INTERFACE "${out_dir}")
  target_link_libraries(${target} INTERFACE milk::runtime)
  set_target_properties(${target} PROPERTIES
    MILK_GENERATED_DIR "${out_dir}"
    MILK_GENERATED_FILES "${all_outputs}")
endfunction()
