/*
 * train_lock.h — one training per model name at a time (a session-level
 * advisory lock held for the whole CALL, across its per-epoch commits).
 */
#ifndef ANIMEREC_TRAIN_LOCK_H
#define ANIMEREC_TRAIN_LOCK_H

#include "storage/lock.h"

/*
 * Take the training lock of model name into *tag without waiting; ereport
 * lock_not_available (55P03), naming the holder's process, when another
 * session holds it.  Must be called inside an SPI connection.
 */
extern void train_lock_acquire(const char *name, LOCKTAG *tag);

/* release the lock taken by train_lock_acquire (also after an error) */
extern void train_lock_release(const LOCKTAG *tag);

#endif
