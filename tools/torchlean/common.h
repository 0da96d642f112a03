/* common.h - helpers shared by the runner's commands: data arguments, model choice, flags. */
#ifndef TL_CLI_COMMON_H
#define TL_CLI_COMMON_H

#include "cli.h"
#include "torchlean/torchlean.h"

#define TL_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Load a dataset from a --data value:
 *   a folder with MNIST-style IDX files (split "train" or "t10k");
 *   "X,Y" two NPY/CSV files (Y: integer class labels -> one-hot);
 *   one CSV file whose last column is the integer class label (a single NPY or IDX file is refused:
 *   it holds no labels).  Formats are told by content (magic bytes), not by the file name; uint8
 *   inputs are image pixels, scaled by 1/255 as the IDX datasets.
 * Prints one clear line on stderr and returns NULL on failure. */
tl_dataset *tl_cli_load_data(const char *spec, const char *split, const char *cmd);
/* Inputs only (predict): one NPY or IDX file of inputs without labels (uint8 pixels scaled by 1/255),
 * or anything tl_cli_load_data takes (split "t10k").  NULL (message printed) on failure. */
tl_dataset *tl_cli_load_inputs(const char *spec, const char *cmd);
/* Build a model by name (mlp, cnn, resnet, resnet18) for the samples and classes of d (mlp and cnn
 * start with a Normalize layer holding d's pixel mean and standard deviation); NULL (message
 * printed) on failure. */
tl_model *tl_cli_make_model(const char *name, uint64_t seed, const tl_dataset *d, const char *cmd);
/* Common training flags parsed from the command line (defaults in brackets in --help). */
typedef struct tl_cli_train_flags {
  long long seed, steps, epochs, batch;
  double lr;
  const char *optimizer, *model, *data, *out, *log, *backend, *device;
} tl_cli_train_flags;
int tl_cli_parse_train_flags(const tl_cli *cli, tl_cli_train_flags *f);
/* Check an output path (the value of --flag; NULL: not given) before any work: its folder exists and
 * is writable, it is not a folder, and it is not the model file or one of the comma-separated data
 * files (either may be NULL).  1 when usable; else a usage error is printed (exit 2) and 0. */
int tl_cli_check_output(const tl_cli *cli, const char *flag, const char *path, const char *model,
                        const char *data);
/* Fill a trainer config from flags; 0 (message printed) on a bad value. */
int tl_cli_trainer_config(const tl_cli *cli, const tl_cli_train_flags *f, tl_trainer_config *cfg);

#endif
