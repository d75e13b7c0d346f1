#!/usr/bin/env bash
# Prints the CMAKE_ARGS used to compile llama.cpp for llama-cpp-python on this host.
#
# Why not the default (GGML_NATIVE=ON)? On CPUs that advertise AMX, llama.cpp's AMX
# kernels crash at the first decode (SIGSEGV in ggml_backend_amx_mul_mat). So on x86-64
# we build without -march=native and switch on, explicitly, every SIMD extension the host
# has except AMX. Other architectures keep the native build. A user's own CMAKE_ARGS win.
set -eu
if [ -n "${CMAKE_ARGS:-}" ]; then printf '%s\n' "$CMAKE_ARGS"; exit 0; fi
case "$(uname -m)" in
  x86_64|amd64) ;;
  *) printf '%s\n' ""; exit 0 ;;
esac
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
args="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
on() { args="$args -D$1=$2"; }
has avx && on GGML_AVX ON
has avx2 && on GGML_AVX2 ON
has fma && on GGML_FMA ON
has f16c && on GGML_F16C ON
has bmi2 && on GGML_BMI2 ON
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
  on GGML_AVX512 ON
  has avx512vbmi && on GGML_AVX512_VBMI ON
  has avx512_vnni && on GGML_AVX512_VNNI ON
  has avx512_bf16 && on GGML_AVX512_BF16 ON
fi
has avx_vnni && on GGML_AVX_VNNI ON
printf '%s\n' "$args"
