"Every registered recipe honours the `Recipe` contract (`l2s_nb.recipes.check_recipe`), the GAN variants too."
import pytest, torch
from l2s_nb.config import to_dict
from l2s_nb.recipes import RECIPES, check_recipe

torch.set_num_threads(1)

@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_contract(name):
    assert 'loss' in check_recipe(name)

def test_multitask_gan_contract():
    from l2s_nb.multitask import tiny_config
    logs = check_recipe('multitask', to_dict(tiny_config(w_adv=0.1)))
    assert {'adv', 'fm', 'disc'} <= set(logs)

def test_vca_gan_training_step_logs():
    "VCA-GAN's step logs its reconstruction per scale, adversarial, feature-matching, sync and discriminator terms."
    logs = check_recipe('vca_gan')
    assert {'rec0', 'rec1', 'rec2', 'adv', 'fm', 'sync', 'sync_real', 'disc'} <= set(logs)
