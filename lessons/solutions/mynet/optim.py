"""Lesson 7: the paper's stochastic gradient descent (section 5) and its learning-rate drops."""


def sgd_step(w, v, grad, lr, momentum, weight_decay):
    """Exercise 7.1. -> (new w, new v): v <- momentum v - weight_decay lr w - lr grad; w <- w + v."""
    v = momentum * v - weight_decay * lr * w - lr * grad
    return w + v, v


def lr_at(epoch, base_lr, milestones):
    """Exercise 7.2. The rate during ``epoch`` (from 1): base_lr divided by 10 after each epoch in milestones."""
    return base_lr / 10 ** sum(1 for m in milestones if epoch > m)
