"""The real AlexNet's trained weights, from the formats they were published in, as minialex networks.

    python -m minialex.convert caffe bvlc_alexnet.caffemodel bvlc_alexnet.npz --download
    python -m minialex.convert torchvision alexnet-owt-7be5be79.pth torchvision_alexnet.npz --download
    python -m minialex.visualize kernels bvlc_alexnet.npz        # Figure 3 from the real weights
    python -m minialex.predict bvlc_alexnet.npz photo.jpg          # its top-5 classes for a photo

``caffe``: BVLC's reference AlexNet, the paper's exact architecture (``caffe.py``).
``torchvision``: torchvision's one-GPU variant (``torchvision.py``).
Each writes a weights file (``minialex.weights``) that ``minialex.load`` reads
back with its mean image, crop and, given BVLC's auxiliary archive, the 1000
class names. Neither reader runs anything from the files it reads.
"""
