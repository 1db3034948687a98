# onnx, the part in the core: the IR, the protobuf-free reader, passes, analysis. Part of edgeq_rt.
target_sources(edgeq_rt_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ir.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/passes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/evaluate_basic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/summary.cpp)
