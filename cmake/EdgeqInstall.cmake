# cmake --install BUILD --prefix P: what embedders need, relocatable (nothing records P):
#   P/include/edgeq/*.h
#   P/lib/libedgeq_rt.a        the runtime core (C++ API), needs only libstdc++, Highway and pthreads
#   P/lib/libedgeq_c.a         the C API on top of libedgeq_rt.a
#   P/lib/libedgeq_rt.so.M.m   core + C API in one shared library (SONAME libedgeq_rt.so.M.m: 0.x minors break ABI)
#   P/lib/cmake/edgeq/         find_package(edgeq CONFIG): edgeq::rt, edgeq::c, edgeq::rt_shared
#   P/lib/pkgconfig/edgeq-rt.pc
#   P/lib/python3/dist-packages/edgeq/   the Python module (Debian layout)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set_target_properties(edgeq_rt PROPERTIES EXPORT_NAME rt)
set_target_properties(edgeq_c PROPERTIES EXPORT_NAME c)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/edgeq DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS edgeq_rt edgeq_c edgeq_rt_shared EXPORT edgeqRtTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(EDGEQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/edgeq)
install(EXPORT edgeqRtTargets NAMESPACE edgeq:: DESTINATION ${EDGEQ_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/edgeqConfig.cmake.in ${PROJECT_BINARY_DIR}/edgeqConfig.cmake
                              INSTALL_DESTINATION ${EDGEQ_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/edgeqConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/edgeqConfig.cmake ${PROJECT_BINARY_DIR}/edgeqConfigVersion.cmake DESTINATION ${EDGEQ_CMAKE_DIR})
configure_file(${PROJECT_SOURCE_DIR}/cmake/edgeq-rt.pc.in ${PROJECT_BINARY_DIR}/edgeq-rt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/edgeq-rt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET edgeq_python)
  set(EDGEQ_PYTHON_INSTALL_DIR lib/python3/dist-packages/edgeq)
  install(TARGETS edgeq_python LIBRARY DESTINATION ${EDGEQ_PYTHON_INSTALL_DIR})
  install(FILES ${PROJECT_SOURCE_DIR}/python/edgeq/__init__.py DESTINATION ${EDGEQ_PYTHON_INSTALL_DIR})
endif()

# The tooling, edgeq::edgeq (find_package(edgeq CONFIG COMPONENTS tooling)): the static module libraries
# over edgeq::rt (libonnx checker/writer, data, quant, bench; not train, which needs LibTorch). Its
# dependencies (protobuf, libonnx, zlib) are looked for only when the component is asked for, so a
# consumer of edgeq::rt never needs them.
set(EDGEQ_TOOLING_LIBS "")
foreach(m quant bench data onnx)  # archive order: a library before the ones it uses
  if(TARGET edgeq_${m})
    install(TARGETS edgeq_${m} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    list(APPEND EDGEQ_TOOLING_LIBS $<TARGET_FILE_NAME:edgeq_${m}>)
  endif()
endforeach()
if(EDGEQ_TOOLING_LIBS)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/edgeqTooling.cmake.in ${PROJECT_BINARY_DIR}/edgeqTooling.cmake.gen @ONLY)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/edgeqTooling.cmake INPUT ${PROJECT_BINARY_DIR}/edgeqTooling.cmake.gen)
  install(FILES ${PROJECT_BINARY_DIR}/edgeqTooling.cmake DESTINATION ${EDGEQ_CMAKE_DIR})
endif()
