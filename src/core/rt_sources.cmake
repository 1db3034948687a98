# core: Error, DType, Tensor (64-byte aligned), files (.npy too), thread pool. Part of edgeq_rt (src/CMakeLists.txt).
target_sources(edgeq_rt_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/error.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tensor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/npy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/thread_pool.cpp)
# Only the file that reports the version sees it (the kernels' objects stay shareable across versions).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/error.cpp PROPERTIES COMPILE_DEFINITIONS EDGEQ_VERSION_STRING="${PROJECT_VERSION}")
