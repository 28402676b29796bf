# Sourced by the tools/gpu scripts that run the CUDA carry (.gpu-carry-cuda from
# tools/gpu/cuda_prepare_carry.sh) on the GPU machine, from the repository root: unpacks
# it if needed and puts its libraries, cuBLAS and NCCL (from the CUDA toolkit or the
# nvidia-* Python wheels, wherever the image has them) on LD_LIBRARY_PATH. NVLink
# multicast stays off (device tool rule).
[ -d .gpu-carry-cuda ] || tar -xJf .gpu-carry-cuda.txz
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
cuda_env_libdirs=$PWD/.gpu-carry-cuda/lib
cuda_env_wheels=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null)
for cuda_env_f in $(find /usr/local/cuda*/ /usr/lib/x86_64-linux-gnu /opt ${cuda_env_wheels:+"$cuda_env_wheels"} \
                      \( -name 'libcublas.so.13' -o -name 'libnccl.so.2' \) 2>/dev/null); do
  cuda_env_libdirs="$cuda_env_libdirs:$(dirname "$cuda_env_f")"
done
export LD_LIBRARY_PATH="$cuda_env_libdirs:${LD_LIBRARY_PATH:-}"
unset cuda_env_libdirs cuda_env_wheels cuda_env_f
