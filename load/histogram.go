package load

import (
	"math"
	"math/bits"
	"time"
)

// Latencies are counted in a log-linear histogram after HdrHistogram's
// layout, so that a long run takes fixed memory and recording costs a few
// instructions: values below 256 ns have a bucket each (exact); above that,
// each power of two is split into 128 buckets of equal width, so a bucket
// spans less than 1/128 (0.79%) of the values in it.
const (
	subBits    = 7
	subCount   = 1 << subBits // buckets per power of two
	exactBelow = 2 * subCount // values below this have a bucket each
	// maxBits bounds the recorded values to 2^42 ns (73 minutes), far past
	// any request timeout; larger values are counted in the last bucket
	// (and still reported exactly as the maximum).
	maxBits    = 42
	numBuckets = exactBelow + (maxBits-subBits-1)*subCount
)

// quantileError is the largest relative error of a quantile reported by a
// histogram: it is never below the true nearest-rank value and at most this
// fraction above it.
const quantileError = 1.0 / subCount

// histogram counts durations in nanoseconds. The zero value is empty and
// ready. Each driver worker has its own, merged at the end, so recording
// needs no synchronisation.
type histogram struct {
	counts   [numBuckets]uint64
	n        uint64
	sum      float64 // for the mean
	min, max int64
}

// bucketOf is the index of the bucket that counts v (v >= 0).
func bucketOf(v int64) int {
	if v < exactBelow {
		return int(v)
	}
	if v >= 1<<maxBits {
		v = 1<<maxBits - 1
	}
	// Keep the top subBits+1 significant bits: top is in [128, 256).
	shift := bits.Len64(uint64(v)) - (subBits + 1)
	top := v >> shift
	return exactBelow + (shift-1)*subCount + int(top-subCount)
}

// bucketHigh is the highest value counted by bucket i.
func bucketHigh(i int) int64 {
	if i < exactBelow {
		return int64(i)
	}
	j := i - exactBelow
	shift := j/subCount + 1
	top := int64(j%subCount + subCount)
	return (top+1)<<shift - 1
}

// record counts one duration; negative ones count as 0.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// merge adds the counts of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the nearest-rank q-quantile: the smallest recorded value
// v such that at least a fraction q of the values are <= v, given as the
// highest value of v's bucket and clamped to the exact maximum, so that it
// never understates a latency (see quantileError). quantile(0) is the
// exact minimum, quantile(1) the exact maximum; an empty histogram gives 0.
func (h *histogram) quantile(q float64) time.Duration {
	switch {
	case h.n == 0:
		return 0
	case q <= 0:
		return time.Duration(h.min)
	case q >= 1:
		return time.Duration(h.max)
	}
	// The epsilon keeps q·n that should be a whole number (0.9·10) from
	// rounding up to the next rank through binary floating point.
	rank := uint64(math.Ceil(q*float64(h.n) - 1e-9))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == numBuckets-1 {
				// The last bucket also counts everything beyond the range.
				return time.Duration(h.max)
			}
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	panic("BUG: histogram counts sum to less than n")
}

// mean is the exact arithmetic mean of the recorded values.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
