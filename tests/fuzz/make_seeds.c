/* make_seeds.c - writes seed inputs for the model-file and IR JSON harnesses: small zoo models
 * (MLP with normalize, CNN, transformer on tokens and on image rows, a ResNet) traced for batch 1,
 * as model files (torchlean.model.v1) and as IR JSON with and without weights.  The ResNet is
 * written as IR JSON without weights only (its weights are large).
 * Usage: make_seeds MODEL_DIR IR_JSON_DIR */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/torchlean.h"

static int write_bytes(const char *path, const void *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "make_seeds: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

/* model file (when with_model) and IR JSON without / with weights of m's traced graph */
static int emit(tl_model *m, const char *name, int with_model, const char *mdir, const char *jdir) {
  tl_status st;
  tl_graph *g = NULL;
  char path[4096];
  int bad = !m || tl_model_status(m, &st) != TL_OK || tl_model_trace(m, 1, &g, &st) != TL_OK;
  if (bad)
    fprintf(stderr, "make_seeds: %s: %s\n", name, m ? st.msg : "out of memory");
  if (!bad && with_model) {
    snprintf(path, sizeof path, "%s/%s.tlm", mdir, name);
    bad = tl_model_save(path, g, &st) != TL_OK;
  }
  for (int w = 0; !bad && w <= with_model; w++) {
    char *js = NULL;
    snprintf(path, sizeof path, "%s/%s%s.json", jdir, name, w ? "_weights" : "");
    bad = tl_ir_json_write(g, w, &js, &st) != TL_OK || write_bytes(path, js, strlen(js));
    free(js);
  }
  tl_graph_free(g);
  tl_model_free(m);
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: make_seeds MODEL_DIR IR_JSON_DIR\n");
    return 2;
  }
  const char *md = argv[1], *jd = argv[2];
  int64_t in[] = {4}, hidden[] = {8, 6};
  const double norm[] = {0.5, 0.25};
  int bad = emit(tl_zoo_mlp(1, 1, in, 2, hidden, 3, norm), "mlp", 1, md, jd);
  bad |= emit(tl_zoo_cnn(2, 1, 8, 3, NULL), "cnn", 1, md, jd);
  bad |= emit(tl_zoo_transformer(3, 5, 3, 4, 2, 8, 1, 2), "transformer", 1, md, jd);
  bad |= emit(tl_zoo_row_transformer(4, 1, 4, 4, 4, 2, 8, 1, 2, norm), "row_transformer", 1, md, jd);
  bad |= emit(tl_zoo_resnet(5, "small", 3, 8, 2), "resnet", 0, md, jd);
  return bad;
}
