"""DeScarGAN's options (their defaults are the official settings) and its profiles."""

from __future__ import annotations

from anobench import Option, channels_last_option, option_set, precision_option

from .weights import Weights

_W = Weights()
#: the warm-up iterations whose mean classification loss ``warmup_loss`` compares
WARMUP_WINDOW = 20

OPTIONS = option_set(
    Option("epochs", int, 500, "passes over the training images (official loop: 500)", minimum=1),
    Option(
        "fp32_epochs",
        int,
        0,
        "passes over the training images when training runs in fp32 or tf32 (0: epochs). An"
        " explicit epochs holds for every precision unless fp32_epochs is given with it",
        minimum=0,
    ),
    Option("batch_size", int, 10, "images per iteration (official: 10)", minimum=2),
    Option("g_width", int, 64, "generator channels at full resolution (official: 64)", minimum=4),
    Option(
        "d_width", int, 32, "discriminator channels of its first layer (official: 32)", minimum=4
    ),
    Option(
        "d_top",
        int,
        16,
        "channels of D's last stage (its encoder's last convolution, critics and classifier) as"
        " a multiple of d_width (official: 16)",
        minimum=1,
    ),
    Option("lr_g", float, 1e-4, "generator Adam learning rate (official: 1e-4)", minimum=0.0),
    Option("lr_d", float, 1e-4, "discriminator Adam learning rate (official: 1e-4)", minimum=0.0),
    Option("beta1", float, 0.5, "Adam beta1 (official: 0.5)", minimum=0.0),
    Option("beta2", float, 0.999, "Adam beta2 (official: 0.999)", minimum=0.0),
    Option(
        "n_critic", int, 5, "a generator step every n_critic iterations (official: 5)", minimum=1
    ),
    Option(
        "gp_every",
        int,
        1,
        "the gradient penalty on every gp_every-th D step only, weighted gp_every times (lazy"
        " regularisation, Karras et al. 2020; official: 1, every step)",
        minimum=1,
    ),
    Option("clip", float, 10.0, "gradient norm clipping for G and D (official: 10)", minimum=0.0),
    Option(
        "noise", float, 0.05, "amplitude of the uniform input noise (official: 0.05)", minimum=0.0
    ),
    Option("w_real", float, _W.real, "weight of the real critic loss (official: 20)"),
    Option("w_fake", float, _W.fake, "weight of the fake critic loss (official: 20)"),
    Option("w_gp", float, _W.gp, "weight of the gradient penalty (official: 10)"),
    Option("w_cls_d", float, _W.cls_d, "weight of D's classification loss (official: 5)"),
    Option("w_adv_g", float, _W.adv_g, "weight of G's adversarial loss (official: 1)"),
    Option("w_cls_g", float, _W.cls_g, "weight of G's classification loss (official: 1)"),
    Option("w_id", float, _W.identity, "weight of the identity loss (official: 50)"),
    Option("w_rec", float, _W.reconstruction, "weight of the cycle loss (official: 50)"),
    Option(
        "warmup",
        int,
        0,
        "iterations that train only D's encoder and classification head before the GAN loop"
        " (not in the official code: 0)",
        minimum=0,
    ),
    Option(
        "d_init",
        str,
        "xavier",
        "discriminator convolution initialisation (official: xavier)",
        choices=("xavier", "kaiming"),
    ),
    Option(
        "warmup_loss",
        float,
        0.0,
        f"end the warm-up once the mean classification loss of its last {WARMUP_WINDOW}"
        " iterations is below this (0: run every warm-up iteration)",
        minimum=0.0,
    ),
    Option(
        "g_skip",
        bool,
        False,
        "feed the full-resolution encoder features to G's heads (the official code computes"
        " this skip connection but never uses it: False)",
    ),
    Option(
        "g_ema",
        float,
        0.0,
        "decay of an exponential moving average of G's weights used for inference"
        " (not in the official code: 0, off)",
        minimum=0.0,
        below=1.0,
    ),
    Option(
        "map_sigma",
        float,
        0.0,
        "standard deviation, in pixels of the model's input, of a Gaussian filter applied to"
        " each anomaly map (not in the official code: 0, off)",
        minimum=0.0,
    ),
    Option("flip", bool, True, "random horizontal and vertical flips, one decision per image"),
    Option(
        "per_image_norm",
        bool,
        True,
        "G normalises each test image with its own statistics, as the official evaluation"
        " (G in train mode, batch 1); False uses the running statistics",
    ),
    Option(
        "score",
        str,
        "logit",
        "image score: the classifier's class-1 logit (official) or its softmax probability",
        choices=("logit", "probability"),
    ),
    precision_option(
        help="training precision: auto (bf16 where the CPU or GPU computes it natively, fp16 on"
        " GPUs older than compute capability 8.0, else fp32; the official code: fp32), fp32,"
        " bf16, fp16 or tf32 (CUDA 8.0+: fp32 with TF32 tensor cores; fp32 elsewhere)"
    ),
    channels_last_option(
        help="channels-last memory format for training and inference: auto (on CPUs, and on"
        " GPUs with bf16/fp16), on or off"
    ),
    precision_option(
        "predict_precision",
        default="fp32",
        help="inference precision: fp32 (default), auto, bf16 or fp16 (maps then differ from"
        " fp32 by ~1e-2)",
    ),
    Option("checkpoint_every", int, 1000, "iterations between checkpoints", minimum=1),
    Option("predict_batch_size", int, 32, "images per inference batch", minimum=1),
)

PROFILES = {
    # the option defaults are the official settings
    "paper": {},
    # CPU settings (the README's table has the evidence for each deviation): a classifier
    # warm-up so the weak label reaches G, a wider D that holds its classifier (w_cls_d 50),
    # a G step every iteration at 20x the official rate, the full-resolution skip and a
    # moving average of G for sharper translations, maps smoothed at 4 px (chosen on the val
    # split), batch 8, the penalty on every 4th D step (1.2x cheaper iterations, val pixel AP
    # not lower over 3 seeds), D's last stage at 8x its width instead of 16x (1.1-1.2x cheaper
    # iterations and a higher val pixel AP at every length), and 12 epochs: the shortest
    # schedule whose val pixel AP over 3 seeds is no lower than the previous quick's (0.313;
    # the frontier in the README). Trained in fp32 (CPUs without native bf16), the same
    # schedule learns more slowly (val pixel AP 0.284 at 12 epochs); by the same rule, 16.
    "quick": {
        "epochs": 12,
        "fp32_epochs": 16,
        "batch_size": 8,
        "g_width": 16,
        "g_skip": True,
        "g_ema": 0.998,
        "d_width": 16,
        "d_top": 8,
        "d_init": "kaiming",
        "warmup": 1500,
        "warmup_loss": 0.05,
        "w_cls_d": 50.0,
        "lr_g": 2e-3,
        "lr_d": 2e-4,
        "n_critic": 1,
        "gp_every": 4,
        "map_sigma": 4.0,
    },
}
