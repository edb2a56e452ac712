# Builds only the Python extension _ember, against a prebuilt libember.so.
#
# Used on hosts without LLVM development files (the GPU host: see
# tools/gpu-bundle): CMakeLists.txt includes this file and returns when
# EMBER_PREBUILT_LIB names a libember built with EMBER_EXPORT_INTERNAL, so
# neither llvm-config nor hwloc's headers are needed, only a Python with
# NumPy. The extension compiles against ember's internal headers (core/ir.h,
# devices/cpu/host_jit.h: plain C, no LLVM) with the same EMBER_EXPORT_INTERNAL
# definition the library was built with.
#
# The library is copied next to the extension (EMBER_PREBUILT_COPY, default
# ON) and found there through RPATH $ORIGIN, so python/ember can be moved;
# so are EMBER_PREBUILT_EXTRA_LIBS (the bundle's libhwloc.so.15), which
# libember finds beside itself through its own RUNPATH $ORIGIN.
if(NOT EXISTS "${EMBER_PREBUILT_LIB}")
  message(FATAL_ERROR "EMBER_PREBUILT_LIB: no such file: ${EMBER_PREBUILT_LIB}")
endif()
option(EMBER_PREBUILT_COPY "Copy the prebuilt libember next to _ember" ON)
set(EMBER_PREBUILT_EXTRA_LIBS "" CACHE STRING "Shared libraries copied beside it too")

# The soname the extension will ask the loader for (libember.so.0).
execute_process(COMMAND readelf -d "${EMBER_PREBUILT_LIB}" OUTPUT_VARIABLE _dyn ERROR_QUIET)
string(REGEX MATCH "Library soname: \\[([^]]+)\\]" _m "${_dyn}")
set(EMBER_PREBUILT_SONAME "${CMAKE_MATCH_1}")
if(NOT EMBER_PREBUILT_SONAME)
  get_filename_component(EMBER_PREBUILT_SONAME "${EMBER_PREBUILT_LIB}" NAME)
endif()
# A libember built without EMBER_EXPORT_INTERNAL hides what _ember calls:
# say so now rather than with a page of undefined references.
execute_process(COMMAND nm -D --defined-only "${EMBER_PREBUILT_LIB}"
                OUTPUT_VARIABLE _syms RESULT_VARIABLE _nm_rc ERROR_QUIET)
if(_nm_rc EQUAL 0 AND NOT _syms MATCHES " T host_compile\n")
  message(FATAL_ERROR "${EMBER_PREBUILT_LIB} does not export ember's internal functions: "
                      "build it with -DEMBER_EXPORT_INTERNAL=ON (tools/gpu-bundle does)")
endif()

include(${CMAKE_SOURCE_DIR}/cmake/FindPythonWithNumPy.cmake)
message(STATUS "ember: building _ember only, against ${EMBER_PREBUILT_LIB} (${EMBER_PREBUILT_SONAME})")

add_library(ember SHARED IMPORTED)
set_target_properties(ember PROPERTIES IMPORTED_LOCATION "${EMBER_PREBUILT_LIB}"
                                       IMPORTED_SONAME "${EMBER_PREBUILT_SONAME}")

file(GLOB EMBER_PY_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/ext/*.c)
Python3_add_library(_ember MODULE WITH_SOABI ${EMBER_PY_SOURCES})
target_include_directories(_ember PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR})
target_compile_definitions(_ember PRIVATE EMBER_EXPORT_INTERNAL
                                          NPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION)
target_link_libraries(_ember PRIVATE ember Python3::NumPy)
get_filename_component(_libdir "${EMBER_PREBUILT_LIB}" DIRECTORY)
set(EMBER_PY_OUT ${CMAKE_SOURCE_DIR}/python/ember CACHE PATH "Where _ember is placed")
set_target_properties(_ember PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${EMBER_PY_OUT}
  BUILD_RPATH "\$ORIGIN;${_libdir}" INSTALL_RPATH "\$ORIGIN")
if(EMBER_PREBUILT_COPY)
  add_custom_command(TARGET _ember POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy "${EMBER_PREBUILT_LIB}" "${EMBER_PY_OUT}/${EMBER_PREBUILT_SONAME}"
    COMMENT "copying ${EMBER_PREBUILT_SONAME} next to _ember")
  foreach(_lib ${EMBER_PREBUILT_EXTRA_LIBS})
    add_custom_command(TARGET _ember POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy "${_lib}" "${EMBER_PY_OUT}/")
  endforeach()
endif()
