# kernels: reference kernels (the oracle) and Highway kernels with run-time dispatch. Part of edgeq_rt.
set(_dir ${CMAKE_CURRENT_LIST_DIR})
target_sources(edgeq_rt_objects PRIVATE
  ${_dir}/validate.cpp
  ${_dir}/reference/conv.cpp
  ${_dir}/reference/gemm.cpp
  ${_dir}/reference/pool.cpp
  ${_dir}/reference/elementwise.cpp
  ${_dir}/reference/quantized.cpp
  ${_dir}/hwy/pack.cpp
  ${_dir}/hwy/pack_q8.cpp
  ${_dir}/hwy/targets.cpp
  ${_dir}/hwy/conv.cpp
  ${_dir}/hwy/conv_small_cin.cpp
  ${_dir}/hwy/gemm.cpp
  ${_dir}/hwy/pool.cpp
  ${_dir}/hwy/elementwise.cpp
  ${_dir}/hwy/quantized.cpp
  ${_dir}/hwy/winograd.cpp
  ${_dir}/hwy/winograd_q8.cpp
  ${_dir}/hwy/depthwise_q8.cpp)
