package estimate

// The GPU tests are in package estimate_test, as package gpu/backend
// imports this one; they reach the trial helpers through these names.
var (
	AccuracyTrial     = accuracyTrial
	LoadPhotos        = loadPhotos
	PairData          = pairData
	StackTrials       = stackTrials
	StackTrialCount   = stackTrialCount
	ExposureStack     = exposureStack
	RampData          = rampData
	SpatialTrials     = spatialTrials
	SpatialTrialCount = spatialTrialCount
	WhiteBalance      = whiteBalanceStack
	Swatches          = swatches
)
