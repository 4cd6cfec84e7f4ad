package wal

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	twal "github.com/tidwall/wal"
	"sitelog/internal/durable"
)

// run is the owner goroutine: the only one that touches l.tl.
func (l *Log) run() {
	defer close(l.stopped)
	tick := time.NewTicker(SyncInterval)
	defer tick.Stop()
	var group []appendReq
	prev := 0 // appends in the previous group
	wait := time.NewTimer(groupWait)
	wait.Stop()
	for {
		select {
		case req := <-l.appends:
			group = l.collect(append(group[:0], req))
			if want := min(prev, groupWaitMax); l.opts.Fsync == FsyncAlways && len(group) < want {
				group = l.await(group, want, wait)
			}
			prev = len(group)
			l.commit(group)
		case fn := <-l.calls:
			fn()
		case <-tick.C:
			l.housekeep()
		case <-l.quit:
			// Answer every append that was queued before Close, so that a
			// handler which got its request in is told the truth.
			for {
				select {
				case req := <-l.appends:
					group = l.collect(append(group[:0], req))
					l.commit(group)
					continue
				default:
				}
				break
			}
			if l.dirty {
				l.sync()
			}
			return
		}
	}
}

// collect adds every append already waiting to the group, up to maxGroup
// entries: this is the group commit. While one group is being fsynced the
// next one queues up in l.appends.
func (l *Log) collect(group []appendReq) []appendReq {
	n := len(group[0].records)
	for n < maxGroup {
		select {
		case req := <-l.appends:
			group = append(group, req)
			n += len(req.records)
		default:
			return group
		}
	}
	return group
}

// await adds appends to the group as they arrive until it holds want of
// them or groupWait has passed. Appenders are concurrent (the previous
// group held want or more) but fewer are here: a moment's wait lets one
// fsync cover them. A lone appender never waits, and appenders that come
// back at once (a tight loop) end the wait as soon as they are all in.
func (l *Log) await(group []appendReq, want int, wait *time.Timer) []appendReq {
	l.m.groupWaits.Inc()
	wait.Reset(groupWait)
	defer wait.Stop()
	n := 0
	for _, req := range group {
		n += len(req.records)
	}
	for len(group) < want && n < maxGroup {
		select {
		case req := <-l.appends:
			group = append(group, req)
			n += len(req.records)
		case <-wait.C:
			return group
		}
	}
	return group
}

// commit writes a group in one WriteBatch and, with FsyncAlways, one fsync,
// then answers every waiter. Any failure poisons the log: after a failed
// write or fsync the file may not hold what tidwall/wal believes it holds,
// and retrying an fsync can report success for data the kernel dropped.
func (l *Log) commit(group []appendReq) {
	if l.poisoned.Load() {
		for _, req := range group {
			req.done <- appendResult{err: ErrPoisoned}
		}
		return
	}
	last := l.last.Load()
	next := last + 1
	l.batch.Clear()
	l.buf = l.buf[:0]
	rotated := l.tailBytes > l.opts.SegmentSize
	if rotated {
		l.segStarts = append(l.segStarts, next)
		l.tailBytes = 0
	}
	payload := 0
	for _, req := range group {
		for _, rec := range req.records {
			payload += len(rec)
			start := len(l.buf)
			l.buf = appendFrame(l.buf, rec)
			l.batch.Write(next, l.buf[start:])
			// Mirror tidwall/wal's segment cycling, to know when a new
			// segment file appears (its directory entry needs an fsync)
			// and where segments start (truncation is by whole segment).
			l.tailBytes += entrySize(len(l.buf) - start)
			if l.tailBytes >= l.opts.SegmentSize {
				l.segStarts = append(l.segStarts, next+1)
				l.tailBytes = 0
				rotated = true
			}
			next++
		}
	}
	l.unchecked += len(l.buf)
	err := l.inject("write")
	if err == nil {
		err = l.tl.WriteBatch(&l.batch)
	}
	if err == nil && rotated {
		l.crashpoint(CrashAtRotation)
		// A segment created by this batch must not vanish on power loss.
		err = durable.SyncDir(l.dir)
	}
	if err == nil {
		l.crashpoint(CrashAfterWrite)
		l.last.Store(next - 1)
		l.m.lastIndex.Set(float64(next - 1))
		l.dirty = true
		if l.opts.Fsync == FsyncAlways {
			err = l.sync()
		}
	}
	if err != nil {
		l.poison(fmt.Errorf("write: %w", err))
		for _, req := range group {
			req.done <- appendResult{err: ErrPoisoned}
		}
		return
	}
	l.crashpoint(CrashAfterFsync)
	l.groups = append(l.groups, groupMark{last: next - 1, at: l.opts.Now(), bytes: l.written.Add(uint64(payload))})
	if l.unchecked > min(checkFreeEvery, int(l.opts.MinFreeBytes/4)) {
		l.checkFree()
	}
	l.m.groupSize.Observe(float64(next - 1 - last))
	first := last + 1
	for _, req := range group {
		req.done <- appendResult{first: first}
		first += uint64(len(req.records))
	}
}

// sync fsyncs the tail segment and publishes what it made durable.
func (l *Log) sync() error {
	start := time.Now()
	err := l.inject("fsync")
	if err == nil {
		err = l.tl.Sync()
	}
	l.m.fsync.Observe(time.Since(start).Seconds())
	if err != nil {
		l.poison(fmt.Errorf("fsync: %w", err))
		return err
	}
	l.dirty = false
	l.publishDurable(l.last.Load())
	return nil
}

func (l *Log) publishDurable(index uint64) {
	l.durable.Store(index)
	l.advMu.Lock()
	close(l.advanced)
	l.advanced = make(chan struct{})
	l.advMu.Unlock()
}

func (l *Log) poison(err error) {
	if l.poisoned.CompareAndSwap(false, true) {
		l.logger.Error("wal: log poisoned; appends refused until restart", "err", err)
	}
}

// read returns up to max entries from index from on, no further than the
// durable end. Damaged records come back as no-op entries.
func (l *Log) read(from uint64, max int, dst []Entry) ([]Entry, error) {
	first, err := l.tl.FirstIndex()
	if err != nil {
		return dst, err
	}
	if from < first {
		return dst, fmt.Errorf("wal: read %d: entries before %d were truncated", from, first)
	}
	end := min(l.durable.Load(), from+uint64(max)-1)
	for i := from; i <= end; i++ {
		data, err := l.tl.Read(i)
		if err != nil {
			if errors.Is(err, twal.ErrCorrupt) {
				return dst, fmt.Errorf("wal: read %d: segment damaged beyond its tail: %w", i, err)
			}
			return dst, fmt.Errorf("wal: read %d: %w", i, err)
		}
		payload, ok := unframe(data)
		if !ok {
			l.m.damaged.Inc()
			l.logger.Error("wal: skipping a damaged record", "index", i)
		} else if len(payload) == 0 {
			payload = nil
		}
		dst = append(dst, Entry{Index: i, Data: payload})
	}
	return dst, nil
}

// housekeep runs every SyncInterval on the owner: the interval fsync,
// truncation of applied segments, and the lag gauges.
func (l *Log) housekeep() {
	if l.dirty && !l.poisoned.Load() {
		l.sync()
	}
	applied := l.applied.Load()
	l.truncate(applied)
	// Free space is looked at every SyncInterval, and sooner after a
	// burst of writes, so the reserve need only cover what arrives in
	// between.
	l.checkFree()
	i := 0
	for i < len(l.groups) && l.groups[i].last <= applied {
		l.appliedBytes.Store(l.groups[i].bytes)
		i++
	}
	l.groups = append(l.groups[:0], l.groups[i:]...)
	last := l.last.Load()
	l.m.lagEvents.Set(float64(last - min(applied, last)))
	if len(l.groups) > 0 {
		l.m.lagSeconds.Set(l.opts.Now().Sub(l.groups[0].at).Seconds())
	} else {
		l.m.lagSeconds.Set(0)
	}
}

// truncate removes the segments whose every entry is applied. tidwall/wal's
// TruncateFront rewrites the segment it keeps, so it is called only at a
// segment start, and only when at least one whole segment can go.
func (l *Log) truncate(applied uint64) {
	keep := -1
	for i := 1; i < len(l.segStarts); i++ {
		if l.segStarts[i]-1 <= applied {
			keep = i
		}
	}
	if keep < 0 || l.poisoned.Load() {
		return
	}
	at := l.segStarts[keep]
	l.crashpoint(CrashBeforeTruncate)
	if c := l.crash; c != nil && c.point == CrashMidTruncate && c.left == 1 {
		l.simulateMidTruncate(at)
	}
	l.crashpoint(CrashMidTruncate)
	if err := l.tl.TruncateFront(at); err != nil {
		l.poison(fmt.Errorf("truncate front to %d: %w", at, err))
		return
	}
	// The removal of old segments need not be durable: if it is undone by
	// a power loss the entries are below the checkpoint and are skipped.
	l.segStarts = append(l.segStarts[:0], l.segStarts[keep:]...)
}

// checkFreeEvery is how many bytes may be written between two looks at
// the free space (or a quarter of the reserve, if less), besides the look
// every SyncInterval.
const checkFreeEvery = 4 << 20

// checkFree sets diskFull from the free space of the log's file system.
func (l *Log) checkFree() {
	l.unchecked = 0
	if l.opts.MinFreeBytes == 0 {
		return
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(l.dir, &st); err != nil {
		l.logger.Warn("wal: cannot read free disk space", "err", err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	full := free < l.opts.MinFreeBytes
	if l.diskFull.Swap(full) != full {
		if full {
			l.logger.Error("wal: free disk space below the reserve; refusing events", "free_bytes", free, "reserve_bytes", l.opts.MinFreeBytes)
		} else {
			l.logger.Info("wal: free disk space back above the reserve; taking events", "free_bytes", free)
		}
	}
}

// inject returns the error a test's fault hook gives for op, if any.
func (l *Log) inject(op string) error {
	if l.fault == nil {
		return nil
	}
	return l.fault(op)
}
