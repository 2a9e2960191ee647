// CPU emulation (see cuda_runtime.h here): the data-type tags of the CUDA libraries.
#pragma once
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
using cudaDataType = cudaDataType_t;
