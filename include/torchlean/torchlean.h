/* torchlean.h - the one ordinary include: the user-facing surface of TorchLean (training, model files,
 * ONNX, verification with certificates, VNN-LIB properties and their solver).  Link both libraries:
 * `cc prog.c $(pkg-config --cflags --libs torchlean)` or CMake's torchlean::torchlean_verify. */
#ifndef TORCHLEAN_H
#define TORCHLEAN_H

#include "torchlean/status.h"
#include "torchlean/tensor.h"
#include "torchlean/rand.h"
#include "torchlean/io.h"
#include "torchlean/graph.h"
#include "torchlean/exec.h"
#include "torchlean/optim.h"
#include "torchlean/data.h"
#include "torchlean/nn.h"
#include "torchlean/trainer.h"
#include "torchlean/model_file.h"
#include "torchlean/verify.h"
#include "torchlean/onnx.h"
#include "torchlean/vnnlib.h"
#include "torchlean/vnnsolve.h"

#endif
