# milk_set_warnings(<target>): the project's warning set, identical for g++ 12
# and clang 19, and -Werror unless MILK_WERROR is off. Generated headers are
# compiled under the same set by the tests, so users who build with strict
# warnings get no noise from milk.
function(milk_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual -Wformat=2
    -Wimplicit-fallthrough -Wmissing-declarations)
  if(MILK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
