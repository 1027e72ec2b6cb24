/*
 * progress.h — progress slots of running trainings in shared memory, shown by
 * the animerec.training_progress view.  Without shared_preload_libraries the
 * slots do not exist: the calls do nothing and the view is empty.
 */
#ifndef ANIMEREC_PROGRESS_H
#define ANIMEREC_PROGRESS_H

#include "postgres.h"

/*
 * Take a slot for a training run of model/version that runs epochs
 * first_epoch..epochs (a resumed run starts late); -1 when there is none
 * (not preloaded, or all slots busy).  The slot is released when context is
 * deleted or reset, so an error or cancel frees it too.
 */
extern int	progress_begin(const char *model, int32 version, int32 first_epoch,
						   int32 epochs, int64 batches_per_epoch, MemoryContext context);

/* publish the run's position: epoch (1-based), batch done within it, running loss, speed */
extern void progress_update(int slot, int32 epoch, int64 batch, double loss,
							double positions_per_s);

#endif
