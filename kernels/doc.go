// Package kernels implements the per-pixel mathematics of quantfit on the CPU:
// the quantizer models, their surrogate gradients, the losses, and the fused
// loss-and-gradient loops over pixel samples and histograms.
//
// The plain per-sample functions in reference.go are the specification. Every
// fast loop in this package, and every GLSL kernel in package shaders, must
// equal them (the table-driven surrogates within 1e-6), and tests hold them
// together. The twins, one row per piece of mathematics:
//
//	specification (reference.go)   Go fast loop              assembly (amd64)   GLSL (shaders/)
//	Model.Apply, Config.Exact      exactY (eval.go)          —                  quant.glsl exactYF (stack.comp: levelD)
//	Config.Derivs (STE, identity)  steLoop, steMSE           steSumsAVX2        quant.glsl forwardF
//	Config.Derivs (smooth)         tableLoop, tableMSE       tableSumsAVX2      quant.glsl forwardF, surrogateTable[F]
//	Surrogate.periodic             table.at (the one lookup) the same cubics    quant.glsl surrogateTable[F]
//	Config.store                   scale.store               round != 0 branch  quant.glsl storeD, storedLevelF
//	Loss.Eval                      the loops' loss switch    MSE only           data.glsl lossEval
//	Config.SampleLossGrad          Evaluator.LossGrad        —                  lossgrad.comp MODE_LOSSGRAD
//	Config.Exact − t, summed       Evaluator.Losses          —                  lossgrad.comp MODE_LOSSES
//	  (MSE, ≥ 1024 sorted groups)  LevelRuns (runs of levels) —                  — (the GPU sums groups)
//	Stack.SampleLossGrad           StackEvaluator            —                  stack.comp + each Op's GLSL body
//	LookStack.Smooth, CurveSystem  CPULook (look.go)         —                  look.comp (fixed-point scatters)
//
// The per-b constants are one layout, Scale (NewScale), which package gpu
// uploads as it is. lossgrad.comp computes in float with every decision
// (the level, the clamp, the stored level, the sign of an L1 residual)
// taken as the CPU takes it in double; stack.comp computes in double
// (see its header for why).
package kernels
