include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS cio cio_static cio_test EXPORT cioTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT cioTargets NAMESPACE cio:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cio)
configure_package_config_file(cmake/cioConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cioConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cio)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cioConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cioConfig.cmake ${CMAKE_BINARY_DIR}/cioConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cio)
configure_file(cmake/cio.pc.in ${CMAKE_BINARY_DIR}/cio.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/cio.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
