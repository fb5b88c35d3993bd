// Package optim implements first-order stochastic optimizers (SGD,
// momentum, Nesterov, Adagrad, RMSprop, Adam), learning-rate schedules,
// annealed gradient noise, early stopping and projection onto bounds, in
// the shape of gonum's optimize package.
package optim
