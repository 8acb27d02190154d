# milk_component(<name> TYPE <C++ type> HEADER <header> CONTRACT <file> [USER_SPACE_ONLY])
#
# Names one component of components/: its C++ type (a milk::Component,
# userland/include/milk/component.hpp), the header that defines it (relative
# to components/), and the contract it serves (relative to contracts/). The
# calls in components/CMakeLists.txt are THE list of components: everything
# that hosts components reads it from the global properties set here, so
# adding a component is writing it and adding one call.
#
# USER_SPACE_ONLY leaves the component out of milk.ko (its registry and
# Kbuild list): one that needs more than the freestanding runtime (POSIX
# file I/O, text settings). Its C++ `placements` must leave out Kernel; the
# user-space registry checks that at compile time.
#
# Creates the INTERFACE target milk_component_<name> (the header's folder,
# the contract's generated header, the runtime) and sets these global
# properties:
#   MILK_COMPONENTS                     the names, in list order
#   MILK_COMPONENT_<name>_TYPE          the C++ type
#   MILK_COMPONENT_<name>_HEADER        the header, absolute
#   MILK_COMPONENT_<name>_CONTRACT      the contract file, absolute
#   MILK_COMPONENT_<name>_CONTRACT_TARGET  its milk_add_contract target
#   MILK_COMPONENT_<name>_USER_SPACE_ONLY  TRUE or FALSE
#
# The contract's target is milk_contract_<stem> (contracts/CMakeLists.txt
# makes one per contract file).
include_guard(GLOBAL)

function(milk_component name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "USER_SPACE_ONLY" "TYPE;HEADER;CONTRACT" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "milk_component(${name}): unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  foreach(key TYPE HEADER CONTRACT)
    if(NOT arg_${key})
      message(FATAL_ERROR "milk_component(${name}): ${key} is required")
    endif()
  endforeach()
  if(NOT name MATCHES "^[a-z][a-z0-9_]*$")
    message(FATAL_ERROR "milk_component(${name}): a component's name is [a-z][a-z0-9_]* (configs name it)")
  endif()
  get_property(known GLOBAL PROPERTY MILK_COMPONENTS)
  if(name IN_LIST known)
    message(FATAL_ERROR "milk_component(${name}): named twice")
  endif()

  set(header "${PROJECT_SOURCE_DIR}/components/${arg_HEADER}")
  set(contract "${PROJECT_SOURCE_DIR}/contracts/${arg_CONTRACT}")
  foreach(file IN ITEMS "${header}" "${contract}")
    if(NOT EXISTS "${file}")
      message(FATAL_ERROR "milk_component(${name}): ${file} does not exist")
    endif()
  endforeach()
  cmake_path(GET contract STEM stem)
  set(contract_target "milk_contract_${stem}")
  if(NOT TARGET ${contract_target})
    message(FATAL_ERROR "milk_component(${name}): no target ${contract_target} (contracts/CMakeLists.txt makes one per contract)")
  endif()

  cmake_path(GET header PARENT_PATH header_dir)
  add_library(milk_component_${name} INTERFACE)
  # The header's folder, and components/ itself: what components share
  # (policy/, the sOS policies) is included as "policy/...", as milk.ko's
  # Kbuild does.
  target_include_directories(milk_component_${name} INTERFACE "${header_dir}" "${PROJECT_SOURCE_DIR}/components")
  target_link_libraries(milk_component_${name} INTERFACE ${contract_target})

  set_property(GLOBAL APPEND PROPERTY MILK_COMPONENTS ${name})
  set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_TYPE "${arg_TYPE}")
  set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_HEADER "${header}")
  set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_CONTRACT "${contract}")
  set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_CONTRACT_TARGET ${contract_target})
  if(arg_USER_SPACE_ONLY)
    set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_USER_SPACE_ONLY TRUE)
  else()
    set_property(GLOBAL PROPERTY MILK_COMPONENT_${name}_USER_SPACE_ONLY FALSE)
  endif()
endfunction()
