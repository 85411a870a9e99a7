package pipeline

import (
	"context"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
)

// applier applies batches on its own goroutine, one at a time, so that the
// next batch is fetched and decoded while the previous one is applied: the
// warehouse and the decoder each keep a core busy. At most one batch is in
// flight; the next is submitted only after the previous one's result is
// taken, so every batch starts from the offsets its predecessor stored.
type applier struct {
	in   chan *batch.Batch
	out  chan applied
	busy *batch.Batch // the batch in flight, or nil
}

type applied struct {
	b   *batch.Batch
	err error
}

// startApplier starts the applier goroutine, which ends on close. Batches
// are applied under a context that outlives ctx by shutdownFlushTimeout: a
// stop request lets the batch in flight finish.
func (p *Pipeline) startApplier(ctx context.Context) *applier {
	actx, cancel := afterStop(ctx)
	a := &applier{in: make(chan *batch.Batch), out: make(chan applied, 1)}
	go func() {
		defer cancel()
		for b := range a.in {
			a.out <- applied{b: b, err: p.flush(actx, b)}
		}
		close(a.out)
	}()
	return a
}

// afterStop returns a context that ends shutdownFlushTimeout after ctx
// ends: a commit under way when the process is asked to stop may finish,
// but never waits on a stuck warehouse forever. Until a stop request it
// has no deadline — a large batch into a slow warehouse takes as long as
// it takes.
func afterStop(ctx context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownFlushTimeout, cancel) })
	return actx, func() {
		stop()
		cancel()
	}
}

// submit hands a batch to the applier. The previous result must have been
// taken.
func (a *applier) submit(b *batch.Batch) {
	if a.busy != nil {
		panic("pipeline: submit with a batch in flight")
	}
	a.busy = b
	a.in <- b
}

// wait returns the result of the batch in flight, blocking until it is
// applied; ok is false when nothing is in flight.
func (a *applier) wait() (r applied, ok bool) {
	if a.busy == nil {
		return applied{}, false
	}
	r = <-a.out
	a.busy = nil
	return r, true
}

// poll returns the result of the batch in flight if it is ready.
func (a *applier) poll() (r applied, ok bool) {
	if a.busy == nil {
		return applied{}, false
	}
	select {
	case r = <-a.out:
		a.busy = nil
		return r, true
	default:
		return applied{}, false
	}
}

// close stops the goroutine and waits until it has ended: the batch in
// flight, if any, is finished and its result dropped, so that nothing uses
// the warehouse after the run ends (Run then records the run's end on
// it).
func (a *applier) close() {
	close(a.in)
	for range a.out {
	}
}
