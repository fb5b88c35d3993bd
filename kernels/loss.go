package kernels

import (
	"fmt"
	"math"
	"strings"
)

// LossKind names the per-sample loss between the filter's output and the
// target; the objective is its mean over all samples.
type LossKind int

const (
	// MSE is r².
	MSE LossKind = iota
	// L1 is |r|.
	L1
	// Huber is r²/2 for |r| ≤ δ and δ(|r| − δ/2) beyond.
	Huber
)

var lossNames = []string{"mse", "l1", "huber"}

func (k LossKind) String() string {
	if k < 0 || int(k) >= len(lossNames) {
		return fmt.Sprintf("LossKind(%d)", int(k))
	}
	return lossNames[k]
}

// Losses lists the loss names in their canonical order.
func LossNames() []string { return append([]string(nil), lossNames...) }

// ParseLoss returns the loss kind with the given name.
func ParseLoss(name string) (LossKind, error) {
	for i, n := range lossNames {
		if strings.EqualFold(name, n) {
			return LossKind(i), nil
		}
	}
	return 0, fieldError("Loss.Kind", name, "unknown loss; want one of %s", strings.Join(lossNames, ", "))
}

// Loss is a loss kind with its parameter.
type Loss struct {
	Kind LossKind
	// Delta is the Huber threshold, > 0. Default 0.02.
	Delta float64
}

// WithDefaults returns l with zero fields replaced by their defaults.
func (l Loss) WithDefaults() Loss {
	if l.Delta == 0 {
		l.Delta = 0.02
	}
	return l
}

// Validate reports a parameter out of its range.
func (l Loss) Validate() error {
	l = l.WithDefaults()
	if l.Kind < 0 || int(l.Kind) >= len(lossNames) {
		return fieldError("Loss.Kind", l.Kind, "unknown loss")
	}
	if !(l.Delta > 0 && l.Delta <= 1) {
		return fieldError("Loss.Delta", l.Delta, "out of range (0, 1]")
	}
	return nil
}

// Eval returns the loss of residual r and its derivative in r.
func (l Loss) Eval(r float64) (v, dv float64) {
	switch l.Kind {
	case L1:
		if r > 0 {
			return r, 1
		} else if r < 0 {
			return -r, -1
		}
		return 0, 0
	case Huber:
		if a := math.Abs(r); a > l.Delta {
			return l.Delta * (a - l.Delta/2), math.Copysign(l.Delta, r)
		}
		return r * r / 2, r
	}
	return r * r, 2 * r
}
