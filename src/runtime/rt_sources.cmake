# runtime: Session (graph passes, operator table from ops.inc, plans), verify. Part of edgeq_rt.
set(_dir ${CMAKE_CURRENT_LIST_DIR})
target_sources(edgeq_rt_objects PRIVATE
  ${_dir}/session.cpp
  ${_dir}/plan.cpp
  ${_dir}/builder.cpp
  ${_dir}/pack_cache.cpp
  ${_dir}/passes.cpp
  ${_dir}/qdq_fusion.cpp
  ${_dir}/ops_table.cpp
  ${_dir}/ops/layout.cpp
  ${_dir}/ops/window.cpp
  ${_dir}/ops/elementwise.cpp
  ${_dir}/ops/conv.cpp
  ${_dir}/ops/gemm.cpp
  ${_dir}/ops/pool.cpp
  ${_dir}/ops/norm.cpp
  ${_dir}/ops/shape_ops.cpp
  ${_dir}/ops/movement.cpp
  ${_dir}/ops/resize.cpp
  ${_dir}/ops/quantize.cpp
  ${_dir}/ops/qlinear.cpp
  ${_dir}/ops/qlinear_pointwise.cpp
  ${_dir}/ops/generic.cpp
  ${_dir}/ops/math.cpp
  ${_dir}/ops/logic.cpp
  ${_dir}/ops/indexing.cpp
  ${_dir}/ops/series.cpp
  ${_dir}/ops/conv_transpose.cpp
  ${_dir}/ops/group_norm.cpp
  ${_dir}/ops/recurrent.cpp
  ${_dir}/ops/grid_sample.cpp
  ${_dir}/ops/signal.cpp
  ${_dir}/ops/roi_align.cpp
  ${_dir}/ops/tfidf.cpp
  ${_dir}/verify.cpp)
