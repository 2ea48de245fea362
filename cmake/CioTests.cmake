# Every tests/test-<area>.c is one binary; every CIO_TEST(name) in it is its
# own CTest entry, found by scanning the source (so a new test needs no
# registration anywhere else).
file(GLOB CIO_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test-*.c)
foreach(src ${CIO_TEST_SOURCES})
  get_filename_component(bin ${src} NAME_WE)
  add_executable(${bin} ${src})
  set_target_properties(${bin} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${bin} PRIVATE cio_test)
  target_include_directories(${bin} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  # Tests that look inside (core/runtime.h) must see the library's layout.
  if(CIO_SWITCH_ASM)
    target_compile_definitions(${bin} PRIVATE CIO_SWITCH_ASM=1)
  endif()
  file(STRINGS ${src} lines REGEX "^CIO_TEST[A-Z_]*\\([A-Za-z0-9_]+")
  foreach(line ${lines})
    string(REGEX REPLACE "^CIO_TEST[A-Z_]*\\(([A-Za-z0-9_]+).*" "\\1" tname "${line}")
    add_test(NAME ${bin}.${tname} COMMAND ${bin} ${tname}
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    set_tests_properties(${bin}.${tname} PROPERTIES TIMEOUT 120
      ENVIRONMENT "CIO_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR};CIO_BUILD_DIR=${CMAKE_BINARY_DIR}")
  endforeach()
endforeach()
