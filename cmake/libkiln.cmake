# libkiln: the public API (include/kiln) as a shared and a static library made from the same
# objects, installed with a CMake package config (find_package(kiln) -> kiln::kiln, and
# kiln::kiln_static) and a pkg-config file (kiln.pc). Only include/kiln is installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(kiln_shared SHARED)
target_link_libraries(kiln_shared PRIVATE kiln_objs)
target_include_directories(kiln_shared INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>)
set_target_properties(kiln_shared PROPERTIES OUTPUT_NAME kiln VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR} CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
# Undefined symbols are errors when the library is linked, not when a program loads it (not in
# sanitizer builds: clang's runtimes are resolved from the executable).
if(NOT KILN_SANITIZE AND NOT KILN_TSAN AND NOT KILN_FUZZ)
  target_link_options(kiln_shared PRIVATE -Wl,--no-undefined)
endif()

add_library(kiln_static STATIC $<TARGET_OBJECTS:kiln_objs>)
set_target_properties(kiln_static PROPERTIES OUTPUT_NAME kiln)

install(TARGETS kiln_shared kiln_static
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# What a program linking libkiln.a needs besides it (libkiln.so carries these itself): absolute
# paths of the libraries found here, in link order, and the OpenMP flag.
set(_deps)
foreach(t onnx_proto protobuf::libprotobuf)
  get_target_property(_loc ${t} LOCATION)
  list(APPEND _deps ${_loc})
endforeach()
list(APPEND _deps ${DNNL_LIBRARY})
foreach(t fmt::fmt spdlog::spdlog)
  get_target_property(_loc ${t} LOCATION)
  list(APPEND _deps ${_loc})
endforeach()
list(APPEND _deps ${UTF8PROC_LINK_LIBRARIES} ${PCRE2_LINK_LIBRARIES} ${SENTENCEPIECE_LINK_LIBRARIES}
  ${OpenMP_CXX_FLAGS} ${CMAKE_THREAD_LIBS_INIT} -ldl)
set(KILN_STATIC_DEPS "${_deps}")

# Paths in the installed files are relative to the file itself, so the prefix can move.
file(RELATIVE_PATH KILN_CMAKE_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/cmake/kiln ${CMAKE_INSTALL_PREFIX})
file(RELATIVE_PATH KILN_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_SOURCE_DIR}/cmake/kilnConfig.cmake.in ${CMAKE_BINARY_DIR}/kilnConfig.cmake @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/kiln.pc.in ${CMAKE_BINARY_DIR}/kiln.pc @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/kilnConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/kilnConfig.cmake ${CMAKE_BINARY_DIR}/kilnConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)
install(FILES ${CMAKE_BINARY_DIR}/kiln.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
