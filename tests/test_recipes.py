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
    ("VCA-GAN's step logs its reconstruction per scale, adversarial, feature-matching, sync "
     "and discriminator terms.")
    logs = check_recipe('vca_gan')
    assert {'rec0', 'rec1', 'rec2', 'adv', 'fm', 'sync', 'sync_real', 'disc'} <= set(logs)

def test_each_recipe_learns_from_its_region(tmp_path, capsys):
    ("A cache of another region is refused before training, naming the prep command; "
     "the right one trains, and the region travels into the checkpoint.")
    import sys; sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
    from fake_corpora import fake_cache
    from l2s_nb.cli import main
    from l2s_nb.recipes import load_recipe
    args = ['--recipe', 'lip2wav', '--steps', '1', '--batch_size', '2', '--device', 'cpu', '--threads', '1']
    mouth = fake_cache(tmp_path/'mouth', n=3, frames=8)
    assert main(['train', str(mouth), '--run_dir', str(tmp_path/'r1'), *args]) == 2
    err = capsys.readouterr().err
    assert "learns from face crops, but the data holds mouth crops" in err and 'l2s prep --region face' in err
    face = fake_cache(tmp_path/'face', n=3, frames=8, region='face')
    assert main(['train', str(face), '--run_dir', str(tmp_path/'r2'), '--export', str(tmp_path/'l2w.pt'),
                 *args]) == 0
    assert load_recipe(tmp_path/'l2w.pt').video.region == 'face'
