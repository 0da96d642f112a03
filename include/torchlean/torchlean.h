/* torchlean.h - the one ordinary include: the user-facing surface of TorchLean (training, model files
 * and verification with certificates; link torchlean_verify, e.g. `pkg-config --libs torchlean`). */
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

#endif
