package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func histOf(values ...time.Duration) *histogram {
	var h histogram
	for _, v := range values {
		h.record(v)
	}
	return &h
}

func TestQuantileKnownInputs(t *testing.T) {
	oneToHundred := make([]time.Duration, 100)
	for i := range oneToHundred {
		oneToHundred[i] = time.Duration(i + 1)
	}
	// Values below 256 ns have a bucket each, so their nearest-rank
	// quantiles are exact: the smallest v with at least q·n values <= v.
	f := func(name string, values []time.Duration, q float64, want time.Duration) {
		t.Helper()
		if got := histOf(values...).quantile(q); got != want {
			t.Errorf("%s: quantile(%g) = %d, want %d", name, q, got, want)
		}
	}
	f("1..100", oneToHundred, 0, 1)
	f("1..100", oneToHundred, 0.01, 1)
	f("1..100", oneToHundred, 0.5, 50)
	f("1..100", oneToHundred, 0.9, 90)
	f("1..100", oneToHundred, 0.99, 99)
	f("1..100", oneToHundred, 0.995, 100)
	f("1..100", oneToHundred, 1, 100)
	f("ten values", []time.Duration{7, 1, 9, 3, 5, 2, 8, 4, 10, 6}, 0.9, 9) // 0.9·10 is rank 9, not 10
	f("ten values", []time.Duration{7, 1, 9, 3, 5, 2, 8, 4, 10, 6}, 0.91, 10)
	f("one value", []time.Duration{42}, 0.5, 42)
	f("empty", nil, 0.5, 0)
	f("negative counts as 0", []time.Duration{-5, 3}, 0.5, 0)

	// Above 256 ns a quantile is the highest value of its bucket, clamped
	// to the exact maximum. 1,000,000 ns has 20 significant bits; keeping
	// the top 8 gives 244 << 12, so its bucket is [999424, 1003519].
	f("1ms alone", []time.Duration{time.Millisecond}, 0.5, time.Millisecond)
	f("1ms and 2ms", []time.Duration{time.Millisecond, 2 * time.Millisecond}, 0.5, 1003519)
	f("1ms and 2ms", []time.Duration{time.Millisecond, 2 * time.Millisecond}, 1, 2*time.Millisecond)
	// 257 is the top of the bucket [256, 257].
	f("257", []time.Duration{256, 257, 300}, 0.5, 257)
	// Beyond the range: counted in the last bucket, reported exactly as max.
	f("two hours", []time.Duration{2 * time.Hour}, 0.99, 2*time.Hour)
}

func TestHistogramMean(t *testing.T) {
	if got := histOf(1, 2, 3, 4, 1000).mean(); got != 202 {
		t.Errorf("mean = %d, want 202", got)
	}
	if got := histOf().mean(); got != 0 {
		t.Errorf("mean of nothing = %d, want 0", got)
	}
}

func TestBucketLayout(t *testing.T) {
	// Every bucket's highest value maps back to it and the next value to
	// the next bucket: the buckets tile the range without gaps or overlap.
	for i := range numBuckets - 1 {
		hi := bucketHigh(i)
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(bucketHigh(%d) = %d) = %d", i, hi, got)
		}
		if got := bucketOf(hi + 1); got != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi+1, got, i+1)
		}
		// The width of a bucket is below 1/128 of the values in it.
		lo := int64(0)
		if i > 0 {
			lo = bucketHigh(i-1) + 1
		}
		if lo > 0 && float64(hi-lo) > quantileError*float64(lo) {
			t.Fatalf("bucket %d [%d, %d] is wider than %g of its values", i, lo, hi, quantileError)
		}
	}
	if got := bucketHigh(numBuckets - 1); got != 1<<maxBits-1 {
		t.Errorf("last bucket ends at %d, want 2^%d-1", got, maxBits)
	}
}

func TestQuantileErrorBound(t *testing.T) {
	// Against the exact nearest-rank quantile of sorted samples: never
	// below it, at most quantileError above it.
	r := rand.New(rand.NewPCG(1, 2))
	values := make([]time.Duration, 10007)
	var h histogram
	for i := range values {
		// Log-uniform from 1 ns to about 17 s, as latencies spread.
		values[i] = time.Duration(1<<r.IntN(34)) + time.Duration(r.Int64N(1<<20))
		h.record(values[i])
	}
	slices.Sort(values)
	for _, q := range []float64{0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999} {
		rank := int(float64(len(values))*q + 0.999999999)
		exact := values[rank-1]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > quantileError*float64(exact) {
			t.Errorf("quantile(%g) = %d, exact %d: off by more than %g", q, got, exact, quantileError)
		}
	}
	if h.quantile(0) != values[0] || h.quantile(1) != values[len(values)-1] {
		t.Errorf("min, max = %d, %d; want %d, %d", h.quantile(0), h.quantile(1), values[0], values[len(values)-1])
	}
}

func TestHistogramMerge(t *testing.T) {
	all := histOf(5, 300, 7000, 2*time.Millisecond, 9*time.Second)
	a := histOf(300, 9*time.Second)
	b := histOf(5, 7000, 2*time.Millisecond)
	var merged histogram
	merged.merge(a)
	merged.merge(&histogram{})
	merged.merge(b)
	if merged != *all {
		t.Errorf("merge of parts differs from recording all in one")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	d := 1234567 * time.Nanosecond
	b.ReportAllocs()
	for b.Loop() {
		h.record(d)
		d += 7919
	}
}
